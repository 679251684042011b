namespace Gadget.Agent.Containers;

/// <summary>A pod of this node as the Kubernetes API describes it: what completes its containers.</summary>
internal sealed record KubePod
{
    public required string Uid { get; init; }

    public required string Namespace { get; init; }

    public required string Name { get; init; }

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Container names by runtime container id, from the pod's container statuses
    /// (<c>containerd://ID</c>, <c>cri-o://ID</c>): the kubelet's own record of which container is which.
    /// </summary>
    public IReadOnlyDictionary<string, string> ContainerNames { get; init; } = new Dictionary<string, string>();

    /// <summary>True when <paramref name="other"/> would complete containers exactly as this one does.</summary>
    public bool SameAs(KubePod? other)
        => other is not null && Uid == other.Uid && Namespace == other.Namespace && Name == other.Name
           && SameEntries(Labels, other.Labels) && SameEntries(ContainerNames, other.ContainerNames);

    /// <summary>Same keys with the same values, in any order.</summary>
    internal static bool SameEntries(IReadOnlyDictionary<string, string> left, IReadOnlyDictionary<string, string> right)
        => left.Count == right.Count && left.All(entry => right.TryGetValue(entry.Key, out string? value) && value == entry.Value);
}
