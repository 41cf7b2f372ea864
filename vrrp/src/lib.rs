//! VRRPv3.
