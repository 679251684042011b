using System.Collections;
using System.Globalization;
using System.Management.Automation;
using Gadget.Tracing;

namespace Gadget.Commands;

/// <summary>Turns the container selector parameters into a <see cref="ContainerSelection"/>, refusing contradictions.</summary>
internal static class ContainerSelectionParameters
{
    public const string ConflictingParametersId = "ConflictingParameters";

    /// <summary>Null when nothing was asked: the host and every container.</summary>
    public static ContainerSelection? Build(PSCmdlet cmdlet, string[]? namespaces, bool allNamespaces, string? pod, string? container, Hashtable? selector, bool hostOnly)
    {
        bool anyContainerSelector = namespaces is { Length: > 0 } || allNamespaces || pod is not null || container is not null || selector is { Count: > 0 };
        if (hostOnly && anyContainerSelector)
        {
            Throw(cmdlet, "-HostOnly selects processes outside containers; it cannot be combined with -Namespace, -AllNamespaces, -Pod, -Container or -Selector.");
        }

        if (allNamespaces && namespaces is { Length: > 0 })
        {
            Throw(cmdlet, "-AllNamespaces and -Namespace contradict each other: give one of them.");
        }

        if (hostOnly)
        {
            return ContainerSelection.HostOnly;
        }

        if (!anyContainerSelector)
        {
            return null;
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (selector is not null)
        {
            foreach (DictionaryEntry entry in selector)
            {
                labels[Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!] =
                    Convert.ToString(entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value, CultureInfo.InvariantCulture) ?? string.Empty;
            }
        }

        return new ContainerSelection
        {
            Containers = true,
            Namespaces = namespaces ?? [],
            Pod = pod,
            Container = container,
            Labels = labels,
        };
    }

    private static void Throw(PSCmdlet cmdlet, string message)
        => cmdlet.ThrowTerminatingError(new ErrorRecord(new ArgumentException(message), ConflictingParametersId, ErrorCategory.InvalidArgument, null));
}
