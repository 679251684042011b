namespace Gadget.Agent.Containers;

/// <summary>One running container as the agent knows it.</summary>
internal sealed record ContainerRecord
{
    public required string Id { get; init; }

    /// <summary>The runtime's name for it (containerd id, runc id).</summary>
    public required string Name { get; init; }

    /// <summary>containerd or runc.</summary>
    public required string Runtime { get; init; }

    /// <summary>The runtime namespace (containerd's k8s.io, default …); empty for runc.</summary>
    public string RuntimeNamespace { get; init; } = string.Empty;

    public string Image { get; init; } = string.Empty;

    /// <summary>The container's init process on the host.</summary>
    public required int Pid { get; init; }

    public required ulong MountNsId { get; init; }

    public ulong NetNsId { get; init; }

    public string CgroupPath { get; init; } = string.Empty;

    /// <summary>Pod fields from the kubelet's labels, completed from the Kubernetes API; empty outside Kubernetes.</summary>
    public string PodNamespace { get; init; } = string.Empty;

    public string PodName { get; init; } = string.Empty;

    /// <summary>From the kubelet's label, or else from the kubelet's cgroup path; the key to the pod in the API.</summary>
    public string PodUid { get; init; } = string.Empty;

    /// <summary>The container's name in its pod; the runtime's name when nobody named it.</summary>
    public string ContainerName { get; init; } = string.Empty;

    /// <summary>The pod's labels (the runtime's labels without the kubelet's io.kubernetes.* bookkeeping, then the API's).</summary>
    public IReadOnlyDictionary<string, string> PodLabels { get; init; } = new Dictionary<string, string>();

    public const string PodNamespaceLabel = "io.kubernetes.pod.namespace";
    public const string PodNameLabel = "io.kubernetes.pod.name";
    public const string PodUidLabel = "io.kubernetes.pod.uid";
    public const string ContainerNameLabel = "io.kubernetes.container.name";

    /// <summary>
    /// Fills the pod fields from kubelet labels on the container (or its sandbox). The container
    /// name stays empty without a label: <see cref="CompletedWith"/> decides it.
    /// </summary>
    public ContainerRecord WithKubernetesLabels(IReadOnlyDictionary<string, string> labels)
    {
        var podLabels = labels
            .Where(label => !label.Key.StartsWith("io.kubernetes.", StringComparison.Ordinal)
                && !label.Key.StartsWith("io.cri-containerd.", StringComparison.Ordinal)
                && !label.Key.StartsWith("io.containerd.", StringComparison.Ordinal))
            .ToDictionary(label => label.Key, label => label.Value, StringComparer.Ordinal);
        return this with
        {
            PodNamespace = labels.GetValueOrDefault(PodNamespaceLabel, string.Empty),
            PodName = labels.GetValueOrDefault(PodNameLabel, string.Empty),
            PodUid = labels.GetValueOrDefault(PodUidLabel, string.Empty) is { Length: > 0 } uid ? uid : KubeletCgroup.PodUidOf(CgroupPath),
            ContainerName = labels.GetValueOrDefault(ContainerNameLabel, string.Empty),
            PodLabels = podLabels,
        };
    }

    /// <summary>
    /// The record as traces see it: what the runtime left empty filled from the pod the Kubernetes
    /// API describes (namespace, name, container name), the pod's labels from the API, and the
    /// runtime's name as the container name when nobody named the container.
    /// </summary>
    /// <remarks>
    /// The runtime's copy of the labels is the pod sandbox's, taken when the pod started; the API's
    /// follow every <c>kubectl label</c>, so they replace the copy and a relabelled pod moves in or
    /// out of a selection.
    /// </remarks>
    public ContainerRecord CompletedWith(KubePod? pod)
    {
        if (pod is null)
        {
            return ContainerName.Length > 0 ? this : this with { ContainerName = Name };
        }

        return this with
        {
            PodNamespace = PodNamespace.Length > 0 ? PodNamespace : pod.Namespace,
            PodName = PodName.Length > 0 ? PodName : pod.Name,
            ContainerName = ContainerName.Length > 0 ? ContainerName : pod.ContainerNames.GetValueOrDefault(Id, Name),
            PodLabels = pod.Labels,
        };
    }
}
