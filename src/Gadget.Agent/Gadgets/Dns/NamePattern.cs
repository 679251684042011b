using Gadget.Agent.Matching;

namespace Gadget.Agent.Gadgets.Dns;

/// <summary>
/// A DNS name pattern with PowerShell's wildcards (<c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[a-z]</c>),
/// matched case-insensitively against fully qualified names. A pattern without a trailing dot
/// matches as if it had one, so <c>example.com</c> matches <c>example.com.</c>. The names come
/// from packets, so the match takes time linear in the name (see <see cref="Wildcard"/>).
/// </summary>
internal sealed class NamePattern
{
    public const string InvalidPatternId = "InvalidNamePattern";

    private readonly Wildcard _wildcard;

    public NamePattern(string pattern)
    {
        string trimmed = pattern.Trim();
        string qualified = trimmed.EndsWith('.') || trimmed.EndsWith('*') ? trimmed : trimmed + ".";
        _wildcard = Wildcard.TryParse(qualified, ignoreCase: true, out Wildcard? wildcard, out string? problem)
            ? wildcard!
            : throw new GadgetRequestException(InvalidPatternId, $"Parameter '{DnsGadget.NameParameter}': '{trimmed}' is not a valid wildcard pattern: {problem}.");
    }

    public bool IsMatch(string name) => _wildcard.IsMatch(name);
}
