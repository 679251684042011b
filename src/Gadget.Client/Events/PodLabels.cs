using System.Collections.ObjectModel;

namespace Gadget;

/// <summary>
/// A pod's labels. A dictionary for scripts and ConvertTo-Json (an object of its labels); as text
/// (Export-Csv, string expansion) it reads as the labels are written on a command line:
/// <c>app=web,tier=front</c>, sorted by key.
/// </summary>
public sealed class PodLabels(IDictionary<string, string> labels) : ReadOnlyDictionary<string, string>(labels)
{
    /// <summary>No labels: a process on the host.</summary>
    public static PodLabels None { get; } = new(new Dictionary<string, string>());

    public override string ToString()
        => string.Join(",", this.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value));
}
