using Gadget.Protocol.V1;

namespace Gadget.Tracing;

/// <summary>
/// Which processes a trace looks at, by container. The agents turn it into a set of mount
/// namespaces checked in the kernel, kept current as containers start and stop.
/// </summary>
public sealed class ContainerSelection
{
    /// <summary>Processes outside any container.</summary>
    public bool Host { get; init; }

    /// <summary>Containers that match every property below.</summary>
    public bool Containers { get; init; }

    /// <summary>Pod namespaces (any of them); empty for all.</summary>
    public IReadOnlyList<string> Namespaces { get; init; } = [];

    public string? Pod { get; init; }

    public string? Container { get; init; }

    /// <summary>Container ids (any of them); empty for all.</summary>
    public IReadOnlyList<string> Ids { get; init; } = [];

    /// <summary>Pod labels that must all be present with these values.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Only the host's processes.</summary>
    public static ContainerSelection HostOnly { get; } = new() { Host = true };

    internal ContainerSelector ToSelector()
    {
        var selector = new ContainerSelector
        {
            Host = Host,
            Containers = Containers,
            Pod = Pod ?? string.Empty,
            Container = Container ?? string.Empty,
        };
        selector.Namespaces.Add(Namespaces);
        selector.Ids.Add(Ids);
        foreach ((string key, string value) in Labels)
        {
            selector.Labels[key] = value;
        }

        return selector;
    }
}
