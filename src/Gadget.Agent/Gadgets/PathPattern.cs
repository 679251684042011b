using Gadget.Agent.Matching;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// A path filter: an exact absolute path or a wildcard pattern (* ? [abc], ` escapes). The kernel
/// checks the literal prefix of absolute paths; the agent checks the whole pattern on the full
/// path, so relative opens and wildcards are matched exactly too. The paths come from traced
/// processes, so the match takes time linear in the path (see <see cref="Wildcard"/>).
/// </summary>
internal sealed class PathPattern
{
    public const string InvalidPatternId = "InvalidPathPattern";

    private readonly Wildcard? _wildcard;
    private readonly string _exact;

    private PathPattern(string pattern)
    {
        _exact = pattern;
        int firstSpecial = pattern.IndexOfAny(['*', '?', '[', '`']);
        HasWildcards = firstSpecial >= 0;
        KernelPrefix = HasWildcards ? pattern[..firstSpecial] : pattern;
        if (HasWildcards)
        {
            _wildcard = Wildcard.TryParse(pattern, ignoreCase: false, out Wildcard? wildcard, out string? problem)
                ? wildcard
                : throw new GadgetRequestException(InvalidPatternId, $"Parameter '{OpenGadget.PathParameter}' is not a valid wildcard pattern: {problem}.");
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

    public bool Matches(string fullPath) => _wildcard?.IsMatch(fullPath) ?? string.Equals(fullPath, _exact, StringComparison.Ordinal);
}
