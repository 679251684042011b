namespace Gadget.Agent.Gadgets.Dns;

/// <summary>
/// A DNS name pattern with PowerShell's wildcards (<c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[a-z]</c>),
/// matched case-insensitively against fully qualified names. A pattern without a trailing dot
/// matches as if it had one, so <c>example.com</c> matches <c>example.com.</c>.
/// </summary>
internal sealed class NamePattern
{
    private readonly string _pattern;

    public NamePattern(string pattern)
    {
        string trimmed = pattern.Trim();
        _pattern = trimmed.EndsWith('.') || trimmed.EndsWith('*') ? trimmed : trimmed + ".";
    }

    public bool IsMatch(string name) => Match(_pattern, 0, name, 0, budget: 10_000) == true;

    /// <summary>Backtracking match with a step budget, so no pattern can make a packet expensive.</summary>
    private static bool? Match(string pattern, int p, string text, int t, int budget)
    {
        int starP = -1, starT = -1;
        while (budget-- > 0)
        {
            if (p < pattern.Length)
            {
                char c = pattern[p];
                if (c == '*')
                {
                    starP = ++p;
                    starT = t;
                    continue;
                }

                if (t < text.Length)
                {
                    if (c == '?')
                    {
                        p++;
                        t++;
                        continue;
                    }

                    if (c == '[' && TryMatchSet(pattern, p, text[t], out int next, out bool inSet))
                    {
                        if (inSet)
                        {
                            p = next;
                            t++;
                            continue;
                        }
                    }
                    else if (c == '`' && p + 1 < pattern.Length && char.ToLowerInvariant(pattern[p + 1]) == char.ToLowerInvariant(text[t]))
                    {
                        p += 2;
                        t++;
                        continue;
                    }
                    else if (c != '[' && c != '`' && char.ToLowerInvariant(c) == char.ToLowerInvariant(text[t]))
                    {
                        p++;
                        t++;
                        continue;
                    }
                }
            }
            else if (t == text.Length)
            {
                return true;
            }

            if (starP < 0 || starT >= text.Length)
            {
                return false;
            }

            p = starP;
            t = ++starT;
        }

        return null;
    }

    /// <summary>Matches one character against a set at <paramref name="p"/> ('['); false when the set is not closed.</summary>
    private static bool TryMatchSet(string pattern, int p, char c, out int next, out bool inSet)
    {
        inSet = false;
        next = p;
        int end = pattern.IndexOf(']', p + 1);
        if (end < 0)
        {
            return false;
        }

        char lower = char.ToLowerInvariant(c);
        for (int i = p + 1; i < end; i++)
        {
            char from = char.ToLowerInvariant(pattern[i]);
            if (i + 2 < end && pattern[i + 1] == '-')
            {
                char to = char.ToLowerInvariant(pattern[i + 2]);
                inSet |= lower >= from && lower <= to;
                i += 2;
            }
            else
            {
                inSet |= lower == from;
            }
        }

        next = end + 1;
        return true;
    }
}
