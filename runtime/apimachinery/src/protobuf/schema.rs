//! Field tables of the served kinds' protobuf messages: for each message,
//! each field's number, its JSON name, its type and how its Go field is
//! declared (which decides what Go's JSON encoder writes for it).
//!
//! The numbers and types come from the `generated.proto` files of
//! k8s.io/api (core/v1, coordination/v1, discovery/v1, authentication/v1,
//! authorization/v1) and
//! k8s.io/apimachinery (meta/v1, runtime, util/intstr, api/resource); the
//! JSON names and the pointer/`omitempty` shape from the Go types. Owns only
//! that data. Must not hold decoding logic (that is `protobuf.rs`); a field
//! missing here is skipped like any unknown field.

/// How a field is declared in Go, which decides what Go's JSON encoder
/// writes and so what the decoder emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A non-pointer field with `omitempty`: zero scalars ("" / 0 / false)
    /// are left out. Structs are still written (Go's `omitempty` keeps them).
    Omit,
    /// A pointer, or a field without `omitempty`: written whenever the wire
    /// carries it, zero values included (`ready: false` means something).
    Keep,
    /// A repeated field: a JSON array, left out when empty.
    List,
    /// A `map<string, kind>`: a JSON object, left out when empty.
    Map,
    /// An embedded struct (`json:",inline"`): its fields sit in the parent.
    Inline,
}

/// A field's type.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    /// `bytes`, written as base64 like Go's `[]byte`.
    Bytes,
    Bool,
    Int32,
    Int64,
    /// `metav1.Time`: RFC 3339, whole seconds.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with six fractional digits.
    MicroTime,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `resource.Quantity`: its canonical string.
    Quantity,
    /// `metav1.FieldsV1`: raw JSON, embedded as is.
    FieldsV1,
    Msg(&'static Message),
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub number: u32,
    /// The JSON name.
    pub name: &'static str,
    pub rule: Rule,
    pub kind: Kind,
}

/// One protobuf message.
#[derive(Debug)]
pub struct Message {
    /// The Go type, for error messages and tests.
    pub name: &'static str,
    pub fields: &'static [Field],
}

impl Message {
    pub fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

use Kind::{Bool, Bytes, FieldsV1, Int32, Int64, IntOrString, MicroTime, Msg, Quantity, Str, Time};

macro_rules! message {
    ($id:ident, $name:literal, [$($number:literal $rule:ident $field:literal : $kind:expr),* $(,)?]) => {
        pub static $id: Message = Message {
            name: $name,
            fields: &[$(Field { number: $number, name: $field, rule: Rule::$rule, kind: $kind }),*],
        };
    };
}

// ---------------------------------------------------------------------------
// k8s.io/apimachinery/pkg/apis/meta/v1

message!(OBJECT_META, "ObjectMeta", [
    1 Omit "name": Str,
    2 Omit "generateName": Str,
    3 Omit "namespace": Str,
    4 Omit "selfLink": Str,
    5 Omit "uid": Str,
    6 Omit "resourceVersion": Str,
    7 Omit "generation": Int64,
    8 Omit "creationTimestamp": Time,
    9 Keep "deletionTimestamp": Time,
    10 Keep "deletionGracePeriodSeconds": Int64,
    11 Map "labels": Str,
    12 Map "annotations": Str,
    13 List "ownerReferences": Msg(&OWNER_REFERENCE),
    14 List "finalizers": Str,
    17 List "managedFields": Msg(&MANAGED_FIELDS_ENTRY),
]);

message!(OWNER_REFERENCE, "OwnerReference", [
    5 Keep "apiVersion": Str,
    1 Keep "kind": Str,
    3 Keep "name": Str,
    4 Keep "uid": Str,
    6 Keep "controller": Bool,
    7 Keep "blockOwnerDeletion": Bool,
]);

message!(MANAGED_FIELDS_ENTRY, "ManagedFieldsEntry", [
    1 Omit "manager": Str,
    2 Omit "operation": Str,
    3 Omit "apiVersion": Str,
    4 Keep "time": Time,
    6 Omit "fieldsType": Str,
    7 Keep "fieldsV1": FieldsV1,
    8 Omit "subresource": Str,
]);

message!(CONDITION, "Condition", [
    1 Keep "type": Str,
    2 Keep "status": Str,
    3 Omit "observedGeneration": Int64,
    4 Keep "lastTransitionTime": Time,
    5 Keep "reason": Str,
    6 Keep "message": Str,
]);

message!(LABEL_SELECTOR, "LabelSelector", [
    1 Map "matchLabels": Str,
    2 List "matchExpressions": Msg(&LABEL_SELECTOR_REQUIREMENT),
]);

message!(LABEL_SELECTOR_REQUIREMENT, "LabelSelectorRequirement", [
    1 Keep "key": Str,
    2 Keep "operator": Str,
    3 List "values": Str,
]);

// ---------------------------------------------------------------------------
// k8s.io/api/core/v1: references

message!(OBJECT_REFERENCE, "ObjectReference", [
    1 Omit "kind": Str,
    2 Omit "namespace": Str,
    3 Omit "name": Str,
    4 Omit "uid": Str,
    5 Omit "apiVersion": Str,
    6 Omit "resourceVersion": Str,
    7 Omit "fieldPath": Str,
]);

message!(LOCAL_OBJECT_REFERENCE, "LocalObjectReference", [
    1 Omit "name": Str,
]);

// ---------------------------------------------------------------------------
// Namespace, ConfigMap, Secret, ServiceAccount

message!(NAMESPACE, "Namespace", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "spec": Msg(&NAMESPACE_SPEC),
    3 Keep "status": Msg(&NAMESPACE_STATUS),
]);

message!(NAMESPACE_SPEC, "NamespaceSpec", [
    1 List "finalizers": Str,
]);

message!(NAMESPACE_STATUS, "NamespaceStatus", [
    1 Omit "phase": Str,
    2 List "conditions": Msg(&NAMESPACE_CONDITION),
]);

message!(NAMESPACE_CONDITION, "NamespaceCondition", [
    1 Keep "type": Str,
    2 Keep "status": Str,
    4 Omit "lastTransitionTime": Time,
    5 Omit "reason": Str,
    6 Omit "message": Str,
]);

message!(CONFIG_MAP, "ConfigMap", [
    1 Keep "metadata": Msg(&OBJECT_META),
    4 Keep "immutable": Bool,
    2 Map "data": Str,
    3 Map "binaryData": Bytes,
]);

message!(SECRET, "Secret", [
    1 Keep "metadata": Msg(&OBJECT_META),
    5 Keep "immutable": Bool,
    2 Map "data": Bytes,
    4 Map "stringData": Str,
    3 Omit "type": Str,
]);

message!(SERVICE_ACCOUNT, "ServiceAccount", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 List "secrets": Msg(&OBJECT_REFERENCE),
    3 List "imagePullSecrets": Msg(&LOCAL_OBJECT_REFERENCE),
    4 Keep "automountServiceAccountToken": Bool,
]);

// ---------------------------------------------------------------------------
// Service

message!(SERVICE, "Service", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "spec": Msg(&SERVICE_SPEC),
    3 Keep "status": Msg(&SERVICE_STATUS),
]);

message!(SERVICE_SPEC, "ServiceSpec", [
    1 List "ports": Msg(&SERVICE_PORT),
    2 Map "selector": Str,
    3 Omit "clusterIP": Str,
    18 List "clusterIPs": Str,
    4 Omit "type": Str,
    5 List "externalIPs": Str,
    7 Omit "sessionAffinity": Str,
    8 Omit "loadBalancerIP": Str,
    9 List "loadBalancerSourceRanges": Str,
    10 Omit "externalName": Str,
    11 Omit "externalTrafficPolicy": Str,
    12 Omit "healthCheckNodePort": Int32,
    13 Omit "publishNotReadyAddresses": Bool,
    14 Keep "sessionAffinityConfig": Msg(&SESSION_AFFINITY_CONFIG),
    19 List "ipFamilies": Str,
    17 Keep "ipFamilyPolicy": Str,
    20 Keep "allocateLoadBalancerNodePorts": Bool,
    21 Keep "loadBalancerClass": Str,
    22 Keep "internalTrafficPolicy": Str,
    23 Keep "trafficDistribution": Str,
]);

message!(SERVICE_PORT, "ServicePort", [
    1 Omit "name": Str,
    2 Omit "protocol": Str,
    6 Keep "appProtocol": Str,
    3 Keep "port": Int32,
    4 Omit "targetPort": IntOrString,
    5 Omit "nodePort": Int32,
]);

message!(SESSION_AFFINITY_CONFIG, "SessionAffinityConfig", [
    1 Keep "clientIP": Msg(&CLIENT_IP_CONFIG),
]);

message!(CLIENT_IP_CONFIG, "ClientIPConfig", [
    1 Keep "timeoutSeconds": Int32,
]);

message!(SERVICE_STATUS, "ServiceStatus", [
    1 Omit "loadBalancer": Msg(&LOAD_BALANCER_STATUS),
    2 List "conditions": Msg(&CONDITION),
]);

message!(LOAD_BALANCER_STATUS, "LoadBalancerStatus", [
    1 List "ingress": Msg(&LOAD_BALANCER_INGRESS),
]);

message!(LOAD_BALANCER_INGRESS, "LoadBalancerIngress", [
    1 Omit "ip": Str,
    2 Omit "hostname": Str,
    3 Keep "ipMode": Str,
    4 List "ports": Msg(&PORT_STATUS),
]);

message!(PORT_STATUS, "PortStatus", [
    1 Keep "port": Int32,
    2 Keep "protocol": Str,
    3 Keep "error": Str,
]);

// ---------------------------------------------------------------------------
// Endpoints

message!(ENDPOINTS, "Endpoints", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 List "subsets": Msg(&ENDPOINT_SUBSET),
]);

message!(ENDPOINT_SUBSET, "EndpointSubset", [
    1 List "addresses": Msg(&ENDPOINT_ADDRESS),
    2 List "notReadyAddresses": Msg(&ENDPOINT_ADDRESS),
    3 List "ports": Msg(&CORE_ENDPOINT_PORT),
]);

message!(ENDPOINT_ADDRESS, "EndpointAddress", [
    1 Keep "ip": Str,
    3 Omit "hostname": Str,
    4 Keep "nodeName": Str,
    2 Keep "targetRef": Msg(&OBJECT_REFERENCE),
]);

message!(CORE_ENDPOINT_PORT, "EndpointPort", [
    1 Omit "name": Str,
    2 Keep "port": Int32,
    3 Omit "protocol": Str,
    4 Keep "appProtocol": Str,
]);

// ---------------------------------------------------------------------------
// Event (core/v1)

message!(EVENT, "Event", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "involvedObject": Msg(&OBJECT_REFERENCE),
    3 Omit "reason": Str,
    4 Omit "message": Str,
    5 Omit "source": Msg(&EVENT_SOURCE),
    6 Omit "firstTimestamp": Time,
    7 Omit "lastTimestamp": Time,
    8 Omit "count": Int32,
    9 Omit "type": Str,
    10 Omit "eventTime": MicroTime,
    11 Keep "series": Msg(&EVENT_SERIES),
    12 Omit "action": Str,
    13 Keep "related": Msg(&OBJECT_REFERENCE),
    14 Keep "reportingComponent": Str,
    15 Keep "reportingInstance": Str,
]);

message!(EVENT_SOURCE, "EventSource", [
    1 Omit "component": Str,
    2 Omit "host": Str,
]);

message!(EVENT_SERIES, "EventSeries", [
    1 Omit "count": Int32,
    2 Omit "lastObservedTime": MicroTime,
]);

// ---------------------------------------------------------------------------
// Node

message!(NODE, "Node", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "spec": Msg(&NODE_SPEC),
    3 Keep "status": Msg(&NODE_STATUS),
]);

message!(NODE_SPEC, "NodeSpec", [
    1 Omit "podCIDR": Str,
    7 List "podCIDRs": Str,
    3 Omit "providerID": Str,
    4 Omit "unschedulable": Bool,
    5 List "taints": Msg(&TAINT),
    6 Keep "configSource": Msg(&NODE_CONFIG_SOURCE),
    2 Omit "externalID": Str,
]);

message!(TAINT, "Taint", [
    1 Keep "key": Str,
    2 Omit "value": Str,
    3 Keep "effect": Str,
    4 Keep "timeAdded": Time,
]);

message!(NODE_CONFIG_SOURCE, "NodeConfigSource", [
    2 Keep "configMap": Msg(&CONFIG_MAP_NODE_CONFIG_SOURCE),
]);

message!(CONFIG_MAP_NODE_CONFIG_SOURCE, "ConfigMapNodeConfigSource", [
    1 Keep "namespace": Str,
    2 Keep "name": Str,
    3 Omit "uid": Str,
    4 Omit "resourceVersion": Str,
    5 Keep "kubeletConfigKey": Str,
]);

message!(NODE_STATUS, "NodeStatus", [
    1 Map "capacity": Quantity,
    2 Map "allocatable": Quantity,
    3 Omit "phase": Str,
    4 List "conditions": Msg(&NODE_CONDITION),
    5 List "addresses": Msg(&NODE_ADDRESS),
    6 Omit "daemonEndpoints": Msg(&NODE_DAEMON_ENDPOINTS),
    7 Omit "nodeInfo": Msg(&NODE_SYSTEM_INFO),
    8 List "images": Msg(&CONTAINER_IMAGE),
    9 List "volumesInUse": Str,
    10 List "volumesAttached": Msg(&ATTACHED_VOLUME),
    11 Keep "config": Msg(&NODE_CONFIG_STATUS),
    12 List "runtimeHandlers": Msg(&NODE_RUNTIME_HANDLER),
    13 Keep "features": Msg(&NODE_FEATURES),
    14 List "declaredFeatures": Str,
]);

message!(NODE_CONDITION, "NodeCondition", [
    1 Keep "type": Str,
    2 Keep "status": Str,
    3 Omit "lastHeartbeatTime": Time,
    4 Omit "lastTransitionTime": Time,
    5 Omit "reason": Str,
    6 Omit "message": Str,
]);

message!(NODE_ADDRESS, "NodeAddress", [
    1 Keep "type": Str,
    2 Keep "address": Str,
]);

message!(NODE_DAEMON_ENDPOINTS, "NodeDaemonEndpoints", [
    1 Omit "kubeletEndpoint": Msg(&DAEMON_ENDPOINT),
]);

message!(DAEMON_ENDPOINT, "DaemonEndpoint", [
    1 Keep "Port": Int32,
]);

message!(NODE_SYSTEM_INFO, "NodeSystemInfo", [
    1 Keep "machineID": Str,
    2 Keep "systemUUID": Str,
    3 Keep "bootID": Str,
    4 Keep "kernelVersion": Str,
    5 Keep "osImage": Str,
    6 Keep "containerRuntimeVersion": Str,
    7 Keep "kubeletVersion": Str,
    8 Keep "kubeProxyVersion": Str,
    9 Keep "operatingSystem": Str,
    10 Keep "architecture": Str,
    11 Keep "swap": Msg(&NODE_SWAP_STATUS),
]);

message!(NODE_SWAP_STATUS, "NodeSwapStatus", [
    1 Keep "capacity": Int64,
]);

message!(CONTAINER_IMAGE, "ContainerImage", [
    1 List "names": Str,
    2 Omit "sizeBytes": Int64,
]);

message!(ATTACHED_VOLUME, "AttachedVolume", [
    1 Keep "name": Str,
    2 Keep "devicePath": Str,
]);

message!(NODE_CONFIG_STATUS, "NodeConfigStatus", [
    1 Keep "assigned": Msg(&NODE_CONFIG_SOURCE),
    2 Keep "active": Msg(&NODE_CONFIG_SOURCE),
    3 Keep "lastKnownGood": Msg(&NODE_CONFIG_SOURCE),
    4 Omit "error": Str,
]);

message!(NODE_RUNTIME_HANDLER, "NodeRuntimeHandler", [
    1 Keep "name": Str,
    2 Keep "features": Msg(&NODE_RUNTIME_HANDLER_FEATURES),
]);

message!(NODE_RUNTIME_HANDLER_FEATURES, "NodeRuntimeHandlerFeatures", [
    1 Keep "recursiveReadOnlyMounts": Bool,
    2 Keep "userNamespaces": Bool,
]);

message!(NODE_FEATURES, "NodeFeatures", [
    1 Keep "supplementalGroupsPolicy": Bool,
]);

// ---------------------------------------------------------------------------
// Pod

message!(POD, "Pod", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "spec": Msg(&POD_SPEC),
    3 Keep "status": Msg(&POD_STATUS),
]);

message!(POD_SPEC, "PodSpec", [
    1 List "volumes": Msg(&VOLUME),
    20 List "initContainers": Msg(&CONTAINER),
    2 List "containers": Msg(&CONTAINER),
    3 Omit "restartPolicy": Str,
    4 Keep "terminationGracePeriodSeconds": Int64,
    5 Keep "activeDeadlineSeconds": Int64,
    6 Omit "dnsPolicy": Str,
    7 Map "nodeSelector": Str,
    8 Omit "serviceAccountName": Str,
    9 Omit "serviceAccount": Str,
    21 Keep "automountServiceAccountToken": Bool,
    10 Omit "nodeName": Str,
    11 Omit "hostNetwork": Bool,
    12 Omit "hostPID": Bool,
    13 Omit "hostIPC": Bool,
    27 Keep "shareProcessNamespace": Bool,
    14 Keep "securityContext": Msg(&POD_SECURITY_CONTEXT),
    15 List "imagePullSecrets": Msg(&LOCAL_OBJECT_REFERENCE),
    16 Omit "hostname": Str,
    17 Omit "subdomain": Str,
    18 Keep "affinity": Msg(&AFFINITY),
    19 Omit "schedulerName": Str,
    22 List "tolerations": Msg(&TOLERATION),
    23 List "hostAliases": Msg(&HOST_ALIAS),
    24 Omit "priorityClassName": Str,
    25 Keep "priority": Int32,
    26 Keep "dnsConfig": Msg(&POD_DNS_CONFIG),
    28 List "readinessGates": Msg(&POD_READINESS_GATE),
    29 Keep "runtimeClassName": Str,
    30 Keep "enableServiceLinks": Bool,
    31 Keep "preemptionPolicy": Str,
    32 Map "overhead": Quantity,
    33 List "topologySpreadConstraints": Msg(&TOPOLOGY_SPREAD_CONSTRAINT),
    35 Keep "setHostnameAsFQDN": Bool,
    36 Keep "os": Msg(&POD_OS),
    37 Keep "hostUsers": Bool,
    38 List "schedulingGates": Msg(&POD_SCHEDULING_GATE),
    40 Keep "resources": Msg(&RESOURCE_REQUIREMENTS),
    41 Keep "hostnameOverride": Str,
]);

message!(CONTAINER, "Container", [
    1 Keep "name": Str,
    2 Omit "image": Str,
    3 List "command": Str,
    4 List "args": Str,
    5 Omit "workingDir": Str,
    6 List "ports": Msg(&CONTAINER_PORT),
    19 List "envFrom": Msg(&ENV_FROM_SOURCE),
    7 List "env": Msg(&ENV_VAR),
    8 Omit "resources": Msg(&RESOURCE_REQUIREMENTS),
    23 List "resizePolicy": Msg(&CONTAINER_RESIZE_POLICY),
    24 Keep "restartPolicy": Str,
    25 List "restartPolicyRules": Msg(&CONTAINER_RESTART_RULE),
    9 List "volumeMounts": Msg(&VOLUME_MOUNT),
    21 List "volumeDevices": Msg(&VOLUME_DEVICE),
    10 Keep "livenessProbe": Msg(&PROBE),
    11 Keep "readinessProbe": Msg(&PROBE),
    22 Keep "startupProbe": Msg(&PROBE),
    12 Keep "lifecycle": Msg(&LIFECYCLE),
    13 Omit "terminationMessagePath": Str,
    20 Omit "terminationMessagePolicy": Str,
    14 Omit "imagePullPolicy": Str,
    15 Keep "securityContext": Msg(&SECURITY_CONTEXT),
    16 Omit "stdin": Bool,
    17 Omit "stdinOnce": Bool,
    18 Omit "tty": Bool,
]);

message!(CONTAINER_PORT, "ContainerPort", [
    1 Omit "name": Str,
    2 Omit "hostPort": Int32,
    3 Keep "containerPort": Int32,
    4 Omit "protocol": Str,
    5 Omit "hostIP": Str,
]);

message!(ENV_VAR, "EnvVar", [
    1 Keep "name": Str,
    2 Omit "value": Str,
    3 Keep "valueFrom": Msg(&ENV_VAR_SOURCE),
]);

message!(ENV_VAR_SOURCE, "EnvVarSource", [
    1 Keep "fieldRef": Msg(&OBJECT_FIELD_SELECTOR),
    2 Keep "resourceFieldRef": Msg(&RESOURCE_FIELD_SELECTOR),
    3 Keep "configMapKeyRef": Msg(&CONFIG_MAP_KEY_SELECTOR),
    4 Keep "secretKeyRef": Msg(&SECRET_KEY_SELECTOR),
    5 Keep "fileKeyRef": Msg(&FILE_KEY_SELECTOR),
]);

message!(OBJECT_FIELD_SELECTOR, "ObjectFieldSelector", [
    1 Omit "apiVersion": Str,
    2 Keep "fieldPath": Str,
]);

message!(RESOURCE_FIELD_SELECTOR, "ResourceFieldSelector", [
    1 Omit "containerName": Str,
    2 Keep "resource": Str,
    3 Omit "divisor": Quantity,
]);

message!(CONFIG_MAP_KEY_SELECTOR, "ConfigMapKeySelector", [
    1 Inline "": Msg(&LOCAL_OBJECT_REFERENCE),
    2 Keep "key": Str,
    3 Keep "optional": Bool,
]);

message!(SECRET_KEY_SELECTOR, "SecretKeySelector", [
    1 Inline "": Msg(&LOCAL_OBJECT_REFERENCE),
    2 Keep "key": Str,
    3 Keep "optional": Bool,
]);

message!(FILE_KEY_SELECTOR, "FileKeySelector", [
    1 Keep "volumeName": Str,
    2 Keep "path": Str,
    3 Keep "key": Str,
    4 Keep "optional": Bool,
]);

message!(ENV_FROM_SOURCE, "EnvFromSource", [
    1 Omit "prefix": Str,
    2 Keep "configMapRef": Msg(&CONFIG_MAP_ENV_SOURCE),
    3 Keep "secretRef": Msg(&SECRET_ENV_SOURCE),
]);

message!(CONFIG_MAP_ENV_SOURCE, "ConfigMapEnvSource", [
    1 Inline "": Msg(&LOCAL_OBJECT_REFERENCE),
    2 Keep "optional": Bool,
]);

message!(SECRET_ENV_SOURCE, "SecretEnvSource", [
    1 Inline "": Msg(&LOCAL_OBJECT_REFERENCE),
    2 Keep "optional": Bool,
]);

message!(RESOURCE_REQUIREMENTS, "ResourceRequirements", [
    1 Map "limits": Quantity,
    2 Map "requests": Quantity,
    3 List "claims": Msg(&RESOURCE_CLAIM),
]);

message!(RESOURCE_CLAIM, "ResourceClaim", [
    1 Keep "name": Str,
    2 Omit "request": Str,
]);

message!(CONTAINER_RESIZE_POLICY, "ContainerResizePolicy", [
    1 Keep "resourceName": Str,
    2 Keep "restartPolicy": Str,
]);

message!(CONTAINER_RESTART_RULE, "ContainerRestartRule", [
    1 Keep "action": Str,
    2 Keep "exitCodes": Msg(&CONTAINER_RESTART_RULE_ON_EXIT_CODES),
]);

message!(CONTAINER_RESTART_RULE_ON_EXIT_CODES, "ContainerRestartRuleOnExitCodes", [
    1 Keep "operator": Str,
    2 List "values": Int32,
]);

message!(VOLUME_MOUNT, "VolumeMount", [
    1 Keep "name": Str,
    2 Omit "readOnly": Bool,
    7 Keep "recursiveReadOnly": Str,
    3 Keep "mountPath": Str,
    4 Omit "subPath": Str,
    5 Keep "mountPropagation": Str,
    6 Omit "subPathExpr": Str,
]);

message!(VOLUME_DEVICE, "VolumeDevice", [
    1 Keep "name": Str,
    2 Keep "devicePath": Str,
]);

message!(PROBE, "Probe", [
    1 Inline "": Msg(&PROBE_HANDLER),
    2 Omit "initialDelaySeconds": Int32,
    3 Omit "timeoutSeconds": Int32,
    4 Omit "periodSeconds": Int32,
    5 Omit "successThreshold": Int32,
    6 Omit "failureThreshold": Int32,
    7 Keep "terminationGracePeriodSeconds": Int64,
]);

message!(PROBE_HANDLER, "ProbeHandler", [
    1 Keep "exec": Msg(&EXEC_ACTION),
    2 Keep "httpGet": Msg(&HTTP_GET_ACTION),
    3 Keep "tcpSocket": Msg(&TCP_SOCKET_ACTION),
    4 Keep "grpc": Msg(&GRPC_ACTION),
]);

message!(EXEC_ACTION, "ExecAction", [
    1 List "command": Str,
]);

message!(HTTP_GET_ACTION, "HTTPGetAction", [
    1 Omit "path": Str,
    2 Keep "port": IntOrString,
    3 Omit "host": Str,
    4 Omit "scheme": Str,
    5 List "httpHeaders": Msg(&HTTP_HEADER),
]);

message!(HTTP_HEADER, "HTTPHeader", [
    1 Keep "name": Str,
    2 Keep "value": Str,
]);

message!(TCP_SOCKET_ACTION, "TCPSocketAction", [
    1 Keep "port": IntOrString,
    2 Omit "host": Str,
]);

message!(GRPC_ACTION, "GRPCAction", [
    1 Keep "port": Int32,
    2 Keep "service": Str,
]);

message!(LIFECYCLE, "Lifecycle", [
    1 Keep "postStart": Msg(&LIFECYCLE_HANDLER),
    2 Keep "preStop": Msg(&LIFECYCLE_HANDLER),
    3 Keep "stopSignal": Str,
]);

message!(LIFECYCLE_HANDLER, "LifecycleHandler", [
    1 Keep "exec": Msg(&EXEC_ACTION),
    2 Keep "httpGet": Msg(&HTTP_GET_ACTION),
    3 Keep "tcpSocket": Msg(&TCP_SOCKET_ACTION),
    4 Keep "sleep": Msg(&SLEEP_ACTION),
]);

message!(SLEEP_ACTION, "SleepAction", [
    1 Keep "seconds": Int64,
]);

message!(SECURITY_CONTEXT, "SecurityContext", [
    1 Keep "capabilities": Msg(&CAPABILITIES),
    2 Keep "privileged": Bool,
    3 Keep "seLinuxOptions": Msg(&SE_LINUX_OPTIONS),
    10 Keep "windowsOptions": Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
    4 Keep "runAsUser": Int64,
    8 Keep "runAsGroup": Int64,
    5 Keep "runAsNonRoot": Bool,
    6 Keep "readOnlyRootFilesystem": Bool,
    7 Keep "allowPrivilegeEscalation": Bool,
    9 Keep "procMount": Str,
    11 Keep "seccompProfile": Msg(&SECCOMP_PROFILE),
    12 Keep "appArmorProfile": Msg(&APP_ARMOR_PROFILE),
]);

message!(POD_SECURITY_CONTEXT, "PodSecurityContext", [
    1 Keep "seLinuxOptions": Msg(&SE_LINUX_OPTIONS),
    8 Keep "windowsOptions": Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
    2 Keep "runAsUser": Int64,
    6 Keep "runAsGroup": Int64,
    3 Keep "runAsNonRoot": Bool,
    4 List "supplementalGroups": Int64,
    12 Keep "supplementalGroupsPolicy": Str,
    5 Keep "fsGroup": Int64,
    7 List "sysctls": Msg(&SYSCTL),
    9 Keep "fsGroupChangePolicy": Str,
    10 Keep "seccompProfile": Msg(&SECCOMP_PROFILE),
    11 Keep "appArmorProfile": Msg(&APP_ARMOR_PROFILE),
    13 Keep "seLinuxChangePolicy": Str,
]);

message!(CAPABILITIES, "Capabilities", [
    1 List "add": Str,
    2 List "drop": Str,
]);

message!(SE_LINUX_OPTIONS, "SELinuxOptions", [
    1 Omit "user": Str,
    2 Omit "role": Str,
    3 Omit "type": Str,
    4 Omit "level": Str,
]);

message!(WINDOWS_SECURITY_CONTEXT_OPTIONS, "WindowsSecurityContextOptions", [
    1 Keep "gmsaCredentialSpecName": Str,
    2 Keep "gmsaCredentialSpec": Str,
    3 Keep "runAsUserName": Str,
    4 Keep "hostProcess": Bool,
]);

message!(SECCOMP_PROFILE, "SeccompProfile", [
    1 Keep "type": Str,
    2 Keep "localhostProfile": Str,
]);

message!(APP_ARMOR_PROFILE, "AppArmorProfile", [
    1 Keep "type": Str,
    2 Keep "localhostProfile": Str,
]);

message!(SYSCTL, "Sysctl", [
    1 Keep "name": Str,
    2 Keep "value": Str,
]);

message!(VOLUME, "Volume", [
    1 Keep "name": Str,
    2 Inline "": Msg(&VOLUME_SOURCE),
]);

message!(VOLUME_SOURCE, "VolumeSource", [
    1 Keep "hostPath": Msg(&HOST_PATH_VOLUME_SOURCE),
    2 Keep "emptyDir": Msg(&EMPTY_DIR_VOLUME_SOURCE),
    6 Keep "secret": Msg(&SECRET_VOLUME_SOURCE),
    10 Keep "persistentVolumeClaim": Msg(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
    16 Keep "downwardAPI": Msg(&DOWNWARD_API_VOLUME_SOURCE),
    19 Keep "configMap": Msg(&CONFIG_MAP_VOLUME_SOURCE),
    26 Keep "projected": Msg(&PROJECTED_VOLUME_SOURCE),
]);

message!(HOST_PATH_VOLUME_SOURCE, "HostPathVolumeSource", [
    1 Keep "path": Str,
    2 Keep "type": Str,
]);

message!(EMPTY_DIR_VOLUME_SOURCE, "EmptyDirVolumeSource", [
    1 Omit "medium": Str,
    2 Keep "sizeLimit": Quantity,
]);

message!(SECRET_VOLUME_SOURCE, "SecretVolumeSource", [
    1 Omit "secretName": Str,
    2 List "items": Msg(&KEY_TO_PATH),
    3 Keep "defaultMode": Int32,
    4 Keep "optional": Bool,
]);

message!(CONFIG_MAP_VOLUME_SOURCE, "ConfigMapVolumeSource", [
    1 Inline "": Msg(&LOCAL_OBJECT_REFERENCE),
    2 List "items": Msg(&KEY_TO_PATH),
    3 Keep "defaultMode": Int32,
    4 Keep "optional": Bool,
]);

message!(KEY_TO_PATH, "KeyToPath", [
    1 Keep "key": Str,
    2 Keep "path": Str,
    3 Keep "mode": Int32,
]);

message!(PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE, "PersistentVolumeClaimVolumeSource", [
    1 Keep "claimName": Str,
    2 Omit "readOnly": Bool,
]);

message!(DOWNWARD_API_VOLUME_SOURCE, "DownwardAPIVolumeSource", [
    1 List "items": Msg(&DOWNWARD_API_VOLUME_FILE),
    2 Keep "defaultMode": Int32,
]);

message!(DOWNWARD_API_VOLUME_FILE, "DownwardAPIVolumeFile", [
    1 Keep "path": Str,
    2 Keep "fieldRef": Msg(&OBJECT_FIELD_SELECTOR),
    3 Keep "resourceFieldRef": Msg(&RESOURCE_FIELD_SELECTOR),
    4 Keep "mode": Int32,
]);

message!(PROJECTED_VOLUME_SOURCE, "ProjectedVolumeSource", [
    1 List "sources": Msg(&VOLUME_PROJECTION),
    2 Keep "defaultMode": Int32,
]);

message!(VOLUME_PROJECTION, "VolumeProjection", [
    1 Keep "secret": Msg(&SECRET_PROJECTION),
    2 Keep "downwardAPI": Msg(&DOWNWARD_API_PROJECTION),
    3 Keep "configMap": Msg(&CONFIG_MAP_PROJECTION),
    4 Keep "serviceAccountToken": Msg(&SERVICE_ACCOUNT_TOKEN_PROJECTION),
    5 Keep "clusterTrustBundle": Msg(&CLUSTER_TRUST_BUNDLE_PROJECTION),
]);

message!(SECRET_PROJECTION, "SecretProjection", [
    1 Inline "": Msg(&LOCAL_OBJECT_REFERENCE),
    2 List "items": Msg(&KEY_TO_PATH),
    4 Keep "optional": Bool,
]);

message!(CONFIG_MAP_PROJECTION, "ConfigMapProjection", [
    1 Inline "": Msg(&LOCAL_OBJECT_REFERENCE),
    2 List "items": Msg(&KEY_TO_PATH),
    4 Keep "optional": Bool,
]);

message!(DOWNWARD_API_PROJECTION, "DownwardAPIProjection", [
    1 List "items": Msg(&DOWNWARD_API_VOLUME_FILE),
]);

message!(SERVICE_ACCOUNT_TOKEN_PROJECTION, "ServiceAccountTokenProjection", [
    1 Omit "audience": Str,
    2 Keep "expirationSeconds": Int64,
    3 Keep "path": Str,
]);

message!(CLUSTER_TRUST_BUNDLE_PROJECTION, "ClusterTrustBundleProjection", [
    1 Keep "name": Str,
    2 Keep "signerName": Str,
    3 Keep "labelSelector": Msg(&LABEL_SELECTOR),
    5 Keep "optional": Bool,
    4 Keep "path": Str,
]);

message!(TOLERATION, "Toleration", [
    1 Omit "key": Str,
    2 Omit "operator": Str,
    3 Omit "value": Str,
    4 Omit "effect": Str,
    5 Keep "tolerationSeconds": Int64,
]);

message!(HOST_ALIAS, "HostAlias", [
    1 Keep "ip": Str,
    2 List "hostnames": Str,
]);

message!(POD_DNS_CONFIG, "PodDNSConfig", [
    1 List "nameservers": Str,
    2 List "searches": Str,
    3 List "options": Msg(&POD_DNS_CONFIG_OPTION),
]);

message!(POD_DNS_CONFIG_OPTION, "PodDNSConfigOption", [
    1 Omit "name": Str,
    2 Keep "value": Str,
]);

message!(POD_READINESS_GATE, "PodReadinessGate", [
    1 Keep "conditionType": Str,
]);

message!(POD_OS, "PodOS", [
    1 Keep "name": Str,
]);

message!(POD_SCHEDULING_GATE, "PodSchedulingGate", [
    1 Keep "name": Str,
]);

message!(TOPOLOGY_SPREAD_CONSTRAINT, "TopologySpreadConstraint", [
    1 Keep "maxSkew": Int32,
    2 Keep "topologyKey": Str,
    3 Keep "whenUnsatisfiable": Str,
    4 Keep "labelSelector": Msg(&LABEL_SELECTOR),
    5 Keep "minDomains": Int32,
    6 Keep "nodeAffinityPolicy": Str,
    7 Keep "nodeTaintsPolicy": Str,
    8 List "matchLabelKeys": Str,
]);

message!(AFFINITY, "Affinity", [
    1 Keep "nodeAffinity": Msg(&NODE_AFFINITY),
    2 Keep "podAffinity": Msg(&POD_AFFINITY),
    3 Keep "podAntiAffinity": Msg(&POD_AFFINITY),
]);

message!(NODE_AFFINITY, "NodeAffinity", [
    1 Keep "requiredDuringSchedulingIgnoredDuringExecution": Msg(&NODE_SELECTOR),
    2 List "preferredDuringSchedulingIgnoredDuringExecution": Msg(&PREFERRED_SCHEDULING_TERM),
]);

message!(NODE_SELECTOR, "NodeSelector", [
    1 List "nodeSelectorTerms": Msg(&NODE_SELECTOR_TERM),
]);

message!(NODE_SELECTOR_TERM, "NodeSelectorTerm", [
    1 List "matchExpressions": Msg(&NODE_SELECTOR_REQUIREMENT),
    2 List "matchFields": Msg(&NODE_SELECTOR_REQUIREMENT),
]);

message!(NODE_SELECTOR_REQUIREMENT, "NodeSelectorRequirement", [
    1 Keep "key": Str,
    2 Keep "operator": Str,
    3 List "values": Str,
]);

message!(PREFERRED_SCHEDULING_TERM, "PreferredSchedulingTerm", [
    1 Keep "weight": Int32,
    2 Keep "preference": Msg(&NODE_SELECTOR_TERM),
]);

// PodAffinity and PodAntiAffinity have the same fields.
message!(POD_AFFINITY, "PodAffinity", [
    1 List "requiredDuringSchedulingIgnoredDuringExecution": Msg(&POD_AFFINITY_TERM),
    2 List "preferredDuringSchedulingIgnoredDuringExecution": Msg(&WEIGHTED_POD_AFFINITY_TERM),
]);

message!(POD_AFFINITY_TERM, "PodAffinityTerm", [
    1 Keep "labelSelector": Msg(&LABEL_SELECTOR),
    2 List "namespaces": Str,
    3 Keep "topologyKey": Str,
    4 Keep "namespaceSelector": Msg(&LABEL_SELECTOR),
    5 List "matchLabelKeys": Str,
    6 List "mismatchLabelKeys": Str,
]);

message!(WEIGHTED_POD_AFFINITY_TERM, "WeightedPodAffinityTerm", [
    1 Keep "weight": Int32,
    2 Keep "podAffinityTerm": Msg(&POD_AFFINITY_TERM),
]);

message!(POD_STATUS, "PodStatus", [
    17 Omit "observedGeneration": Int64,
    1 Omit "phase": Str,
    2 List "conditions": Msg(&POD_CONDITION),
    3 Omit "message": Str,
    4 Omit "reason": Str,
    11 Omit "nominatedNodeName": Str,
    5 Omit "hostIP": Str,
    16 List "hostIPs": Msg(&HOST_IP),
    6 Omit "podIP": Str,
    12 List "podIPs": Msg(&POD_IP),
    7 Keep "startTime": Time,
    10 List "initContainerStatuses": Msg(&CONTAINER_STATUS),
    8 List "containerStatuses": Msg(&CONTAINER_STATUS),
    9 Omit "qosClass": Str,
    13 List "ephemeralContainerStatuses": Msg(&CONTAINER_STATUS),
    14 Omit "resize": Str,
]);

message!(POD_CONDITION, "PodCondition", [
    1 Keep "type": Str,
    7 Omit "observedGeneration": Int64,
    2 Keep "status": Str,
    3 Omit "lastProbeTime": Time,
    4 Omit "lastTransitionTime": Time,
    5 Omit "reason": Str,
    6 Omit "message": Str,
]);

message!(HOST_IP, "HostIP", [
    1 Keep "ip": Str,
]);

message!(POD_IP, "PodIP", [
    1 Keep "ip": Str,
]);

message!(CONTAINER_STATUS, "ContainerStatus", [
    1 Keep "name": Str,
    2 Omit "state": Msg(&CONTAINER_STATE),
    3 Omit "lastState": Msg(&CONTAINER_STATE),
    4 Keep "ready": Bool,
    5 Keep "restartCount": Int32,
    6 Keep "image": Str,
    7 Keep "imageID": Str,
    8 Omit "containerID": Str,
    9 Keep "started": Bool,
    10 Map "allocatedResources": Quantity,
    11 Keep "resources": Msg(&RESOURCE_REQUIREMENTS),
    15 Keep "stopSignal": Str,
]);

message!(CONTAINER_STATE, "ContainerState", [
    1 Keep "waiting": Msg(&CONTAINER_STATE_WAITING),
    2 Keep "running": Msg(&CONTAINER_STATE_RUNNING),
    3 Keep "terminated": Msg(&CONTAINER_STATE_TERMINATED),
]);

message!(CONTAINER_STATE_WAITING, "ContainerStateWaiting", [
    1 Omit "reason": Str,
    2 Omit "message": Str,
]);

message!(CONTAINER_STATE_RUNNING, "ContainerStateRunning", [
    1 Omit "startedAt": Time,
]);

message!(CONTAINER_STATE_TERMINATED, "ContainerStateTerminated", [
    1 Keep "exitCode": Int32,
    2 Omit "signal": Int32,
    3 Omit "reason": Str,
    4 Omit "message": Str,
    5 Omit "startedAt": Time,
    6 Omit "finishedAt": Time,
    7 Omit "containerID": Str,
]);

// ---------------------------------------------------------------------------
// k8s.io/api/coordination/v1

message!(LEASE, "Lease", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "spec": Msg(&LEASE_SPEC),
]);

message!(LEASE_SPEC, "LeaseSpec", [
    1 Keep "holderIdentity": Str,
    2 Keep "leaseDurationSeconds": Int32,
    3 Keep "acquireTime": MicroTime,
    4 Keep "renewTime": MicroTime,
    5 Keep "leaseTransitions": Int32,
    6 Keep "strategy": Str,
    7 Keep "preferredHolder": Str,
]);

// ---------------------------------------------------------------------------
// k8s.io/api/discovery/v1

message!(ENDPOINT_SLICE, "EndpointSlice", [
    1 Keep "metadata": Msg(&OBJECT_META),
    4 Keep "addressType": Str,
    2 List "endpoints": Msg(&ENDPOINT),
    3 List "ports": Msg(&DISCOVERY_ENDPOINT_PORT),
]);

message!(ENDPOINT, "Endpoint", [
    1 List "addresses": Str,
    2 Omit "conditions": Msg(&ENDPOINT_CONDITIONS),
    3 Keep "hostname": Str,
    4 Keep "targetRef": Msg(&OBJECT_REFERENCE),
    5 Map "deprecatedTopology": Str,
    6 Keep "nodeName": Str,
    7 Keep "zone": Str,
    8 Keep "hints": Msg(&ENDPOINT_HINTS),
]);

message!(ENDPOINT_CONDITIONS, "EndpointConditions", [
    1 Keep "ready": Bool,
    2 Keep "serving": Bool,
    3 Keep "terminating": Bool,
]);

message!(ENDPOINT_HINTS, "EndpointHints", [
    1 List "forZones": Msg(&FOR_ZONE),
    2 List "forNodes": Msg(&FOR_NODE),
]);

message!(FOR_ZONE, "ForZone", [
    1 Keep "name": Str,
]);

message!(FOR_NODE, "ForNode", [
    1 Keep "name": Str,
]);

message!(DISCOVERY_ENDPOINT_PORT, "EndpointPort", [
    1 Keep "name": Str,
    2 Keep "protocol": Str,
    3 Keep "port": Int32,
    4 Keep "appProtocol": Str,
]);

// ---------------------------------------------------------------------------
// k8s.io/api/authentication/v1 and authorization/v1 (the self-reviews)

message!(SELF_SUBJECT_REVIEW, "SelfSubjectReview", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "status": Msg(&SELF_SUBJECT_REVIEW_STATUS),
]);

message!(SELF_SUBJECT_REVIEW_STATUS, "SelfSubjectReviewStatus", [
    1 Keep "userInfo": Msg(&USER_INFO),
]);

message!(USER_INFO, "UserInfo", [
    1 Omit "username": Str,
    2 Omit "uid": Str,
    3 List "groups": Str,
]);

message!(SELF_SUBJECT_ACCESS_REVIEW, "SelfSubjectAccessReview", [
    1 Keep "metadata": Msg(&OBJECT_META),
    2 Keep "spec": Msg(&SELF_SUBJECT_ACCESS_REVIEW_SPEC),
]);

message!(SELF_SUBJECT_ACCESS_REVIEW_SPEC, "SelfSubjectAccessReviewSpec", [
    1 Keep "resourceAttributes": Msg(&RESOURCE_ATTRIBUTES),
    2 Keep "nonResourceAttributes": Msg(&NON_RESOURCE_ATTRIBUTES),
]);

message!(RESOURCE_ATTRIBUTES, "ResourceAttributes", [
    1 Omit "namespace": Str,
    2 Omit "verb": Str,
    3 Omit "group": Str,
    4 Omit "version": Str,
    5 Omit "resource": Str,
    6 Omit "subresource": Str,
    7 Omit "name": Str,
]);

message!(NON_RESOURCE_ATTRIBUTES, "NonResourceAttributes", [
    1 Omit "path": Str,
    2 Omit "verb": Str,
]);

/// The top-level message of a served kind, by API group and kind.
pub fn root(group: &str, kind: &str) -> Option<&'static Message> {
    let message = match (group, kind) {
        ("", "Namespace") => &NAMESPACE,
        ("", "Node") => &NODE,
        ("", "Pod") => &POD,
        ("", "Service") => &SERVICE,
        ("", "Endpoints") => &ENDPOINTS,
        ("", "ConfigMap") => &CONFIG_MAP,
        ("", "Secret") => &SECRET,
        ("", "Event") => &EVENT,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("coordination.k8s.io", "Lease") => &LEASE,
        ("discovery.k8s.io", "EndpointSlice") => &ENDPOINT_SLICE,
        ("authentication.k8s.io", "SelfSubjectReview") => &SELF_SUBJECT_REVIEW,
        ("authorization.k8s.io", "SelfSubjectAccessReview") => &SELF_SUBJECT_ACCESS_REVIEW,
        _ => return None,
    };
    Some(message)
}
