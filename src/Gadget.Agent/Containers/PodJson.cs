using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gadget.Agent.Containers;

// The few fields of the Kubernetes API's pods, lists, watch events and statuses the pod source
// reads; everything else in the documents is skipped unread. Source-generated, so no reflection
// metadata is built for them at run time.

internal sealed class PodListDocument
{
    public ObjectMetaDocument? Metadata { get; set; }

    public List<PodDocument>? Items { get; set; }
}

/// <summary>One line of a watch stream: ADDED, MODIFIED, DELETED or BOOKMARK with a pod, ERROR with a Status.</summary>
internal sealed class WatchEventDocument
{
    public string? Type { get; set; }

    public JsonElement Object { get; set; }
}

internal sealed class PodDocument
{
    public ObjectMetaDocument? Metadata { get; set; }

    public PodStatusDocument? Status { get; set; }

    public KubePod ToPod()
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (ContainerStatusDocument container in (Status?.ContainerStatuses ?? []).Concat(Status?.InitContainerStatuses ?? []).Concat(Status?.EphemeralContainerStatuses ?? []))
        {
            // "containerd://ID": the runtime's id after the scheme.
            int scheme = container.ContainerID?.IndexOf("://", StringComparison.Ordinal) ?? -1;
            if (scheme > 0 && container.Name is { Length: > 0 } name)
            {
                names[container.ContainerID![(scheme + 3)..]] = name;
            }
        }

        return new KubePod
        {
            Uid = Metadata?.Uid ?? string.Empty,
            Namespace = Metadata?.Namespace ?? string.Empty,
            Name = Metadata?.Name ?? string.Empty,
            Labels = Metadata?.Labels ?? new Dictionary<string, string>(),
            ContainerNames = names,
        };
    }
}

internal sealed class ObjectMetaDocument
{
    public string? Uid { get; set; }

    public string? Name { get; set; }

    public string? Namespace { get; set; }

    public string? ResourceVersion { get; set; }

    public Dictionary<string, string>? Labels { get; set; }
}

internal sealed class PodStatusDocument
{
    public List<ContainerStatusDocument>? ContainerStatuses { get; set; }

    public List<ContainerStatusDocument>? InitContainerStatuses { get; set; }

    public List<ContainerStatusDocument>? EphemeralContainerStatuses { get; set; }
}

internal sealed class ContainerStatusDocument
{
    public string? Name { get; set; }

    [JsonPropertyName("containerID")]
    public string? ContainerID { get; set; }
}

/// <summary>The API server's answer to a failed request, and the object of a watch's ERROR event.</summary>
internal sealed class StatusDocument
{
    public int Code { get; set; }

    public string? Reason { get; set; }

    public string? Message { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(PodListDocument))]
[JsonSerializable(typeof(WatchEventDocument))]
[JsonSerializable(typeof(PodDocument))]
[JsonSerializable(typeof(StatusDocument))]
internal sealed partial class PodJsonContext : JsonSerializerContext;
