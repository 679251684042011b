using System.Text.RegularExpressions;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// A path filter: an exact absolute path or a wildcard pattern (* ? [abc]). The kernel checks
/// the literal prefix of absolute paths; the agent checks the whole pattern on the full path, so
/// relative opens and wildcards are matched exactly too.
/// </summary>
internal sealed class PathPattern
{
    private readonly Regex? _regex;
    private readonly string _exact;

    private PathPattern(string pattern)
    {
        _exact = pattern;
        int firstWildcard = pattern.IndexOfAny(['*', '?', '[']);
        HasWildcards = firstWildcard >= 0;
        KernelPrefix = HasWildcards ? pattern[..firstWildcard] : pattern;
        if (HasWildcards)
        {
            string regex = "^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal).Replace(@"\[", "[", StringComparison.Ordinal) + "$";
            _regex = new Regex(regex, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
    }

    public bool HasWildcards { get; }

    /// <summary>What every matching absolute path starts with.</summary>
    public string KernelPrefix { get; }

    public static PathPattern? FromRequest(TraceRequest request)
    {
        if (!request.Parameters.TryGetValue(OpenGadget.PathParameter, out string? pattern) || string.IsNullOrEmpty(pattern))
        {
            return null;
        }

        return pattern.StartsWith('/')
            ? new PathPattern(pattern)
            : throw new GadgetRequestException(GadgetParameters.InvalidParameterId,
                $"Parameter '{OpenGadget.PathParameter}' must be an absolute path (it is compared with the resolved path), not '{pattern}'.");
    }

    public bool Matches(string fullPath) => _regex?.IsMatch(fullPath) ?? string.Equals(fullPath, _exact, StringComparison.Ordinal);
}
