using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text.RegularExpressions;
using Gadget.Tracing;

namespace Gadget.Commands;

/// <summary>Turns the container selector parameters into a <see cref="ContainerSelection"/>, refusing contradictions.</summary>
internal static class ContainerSelectionParameters
{
    public const string ConflictingParametersId = "ConflictingParameters";
    public const string InvalidNamespaceId = "InvalidNamespace";
    public const string InvalidSelectorId = "InvalidSelector";

    /// <summary>A namespace's name: an RFC 1123 label, as Kubernetes requires.</summary>
    private static readonly Regex NamespaceName = new("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant);

    /// <summary>A label's name, and a label value when not empty (Kubernetes' qualified-name syntax).</summary>
    private static readonly Regex LabelName = new("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", RegexOptions.CultureInvariant);

    /// <summary>A label key's optional prefix: a DNS subdomain (RFC 1123 labels joined by dots).</summary>
    private static readonly Regex LabelPrefix = new("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", RegexOptions.CultureInvariant);

    /// <summary>Null when nothing was asked: the host and every container.</summary>
    public static ContainerSelection? Build(PSCmdlet cmdlet, string[]? namespaces, bool allNamespaces, string? pod, string? container, Hashtable? selector, bool hostOnly, IReadOnlyList<string>? ids = null)
    {
        ids ??= [];
        bool anyContainerSelector = namespaces is { Length: > 0 } || allNamespaces || pod is not null || container is not null || selector is { Count: > 0 } || ids.Count > 0;
        if (hostOnly && anyContainerSelector)
        {
            Throw(cmdlet, "-HostOnly selects processes outside containers; it cannot be combined with -Namespace, -AllNamespaces, -Pod, -Container, -Selector or containers piped in.");
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

        foreach (string ns in namespaces ?? [])
        {
            if (ns.Length > 63 || !NamespaceName.IsMatch(ns))
            {
                Throw(cmdlet, InvalidNamespaceId, ns,
                    $"-Namespace '{ns}' is not a name Kubernetes allows: a namespace is at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit.");
            }
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (selector is not null)
        {
            foreach (DictionaryEntry entry in selector)
            {
                string key = Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty;
                string value = Convert.ToString(entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value, CultureInfo.InvariantCulture) ?? string.Empty;
                if (LabelKeyProblem(key) is string problem)
                {
                    Throw(cmdlet, InvalidSelectorId, key, $"-Selector key '{key}' is not a label key Kubernetes allows: {problem}.");
                }

                if (value.Length > 63 || (value.Length > 0 && !LabelName.IsMatch(value)))
                {
                    Throw(cmdlet, InvalidSelectorId, value,
                        $"-Selector value '{value}' (of '{key}') is not a label value Kubernetes allows: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or empty.");
                }

                labels[key] = value;
            }
        }

        return new ContainerSelection
        {
            Containers = true,
            Namespaces = namespaces ?? [],
            Pod = pod,
            Container = container,
            Labels = labels,
            Ids = [.. ids.Distinct(StringComparer.Ordinal)],
        };
    }

    /// <summary>Why <paramref name="key"/> is no label key ([prefix/]name), or null.</summary>
    private static string? LabelKeyProblem(string key)
    {
        int slash = key.LastIndexOf('/');
        string name = slash < 0 ? key : key[(slash + 1)..];
        if (slash >= 0)
        {
            string prefix = key[..slash];
            if (prefix.Length is 0 or > 253 || !LabelPrefix.IsMatch(prefix))
            {
                return "its prefix (before '/') must be a DNS subdomain of lowercase letters, digits, '-' and '.', at most 253 characters";
            }
        }

        return name.Length is 0 or > 63 || !LabelName.IsMatch(name)
            ? "its name must be 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
            : null;
    }

    private static void Throw(PSCmdlet cmdlet, string message) => Throw(cmdlet, ConflictingParametersId, null, message);

    private static void Throw(PSCmdlet cmdlet, string errorId, object? target, string message)
        => cmdlet.ThrowTerminatingError(new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, target));
}
