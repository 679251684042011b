using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;

namespace Gadget.KubeStub;

/// <summary>
/// A list's or watch's fieldSelector as the API server reads it: terms joined by commas, each
/// <c>field=value</c>, <c>field==value</c> or <c>field!=value</c>, on the fields the resource
/// supports (every object: metadata.name and metadata.namespace; pods also spec.nodeName).
/// </summary>
internal sealed class FieldSelector
{
    private readonly List<(string[] Path, string Value, bool Equal)> _terms = [];

    public static bool TryParse(string resource, string? text, [NotNullWhen(true)] out FieldSelector? selector, [NotNullWhen(false)] out string? error)
    {
        selector = new FieldSelector();
        error = null;
        foreach (string term in (text ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int notEqual = term.IndexOf("!=", StringComparison.Ordinal);
            int equal = term.IndexOf('=', StringComparison.Ordinal);
            (string field, string value, bool isEqual) = notEqual > 0
                ? (term[..notEqual], term[(notEqual + 2)..], false)
                : equal > 0 ? (term[..equal], term[(equal + 1)..].TrimStart('='), true) : (term, string.Empty, true);
            if (equal <= 0)
            {
                error = $"invalid selector: '{text}'; can't understand '{term}'";
                selector = null;
                return false;
            }

            if (field is not ("metadata.name" or "metadata.namespace") && !(resource == "pods" && field == "spec.nodeName"))
            {
                error = $"field label not supported: {field}";
                selector = null;
                return false;
            }

            selector._terms.Add((field.Split('.'), value, isEqual));
        }

        return true;
    }

    public bool Matches(JsonObject item)
        => _terms.All(term => (Value(item, term.Path) == term.Value) == term.Equal);

    private static string Value(JsonObject item, string[] path)
    {
        JsonNode? node = item;
        foreach (string part in path)
        {
            node = node?[part];
        }

        return (string?)node ?? string.Empty;
    }
}
