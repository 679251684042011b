namespace Gadget.Agent.Matching;

/// <summary>
/// A wildcard pattern as PowerShell writes one: <c>*</c> (any run of characters), <c>?</c> (one
/// character), <c>[abc]</c> and <c>[a-z]</c> (one character of a set), and a backtick that makes
/// the next character literal. The text it is matched against comes from traced processes (file
/// names, DNS names), so matching never backtracks: it keeps only the position after the last
/// <c>*</c>, and takes at most (text length + 1) × (pattern steps + 1) steps, linear in the text
/// for a given pattern.
/// </summary>
internal sealed class Wildcard
{
    private readonly Step[] _steps;
    private readonly bool _ignoreCase;

    private Wildcard(Step[] steps, bool ignoreCase)
    {
        _steps = steps;
        _ignoreCase = ignoreCase;
    }

    /// <summary>Compiles <paramref name="pattern"/>; false, with what is wrong, for an unclosed or empty set or a trailing backtick.</summary>
    public static bool TryParse(string pattern, bool ignoreCase, out Wildcard? wildcard, out string? problem)
    {
        wildcard = null;
        problem = null;
        var steps = new List<Step>(pattern.Length);
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*':
                    // Consecutive stars are one star.
                    if (steps.Count == 0 || steps[^1].Kind != StepKind.Star)
                    {
                        steps.Add(new Step(StepKind.Star, default, null));
                    }

                    break;
                case '?':
                    steps.Add(new Step(StepKind.Any, default, null));
                    break;
                case '`':
                    if (i + 1 == pattern.Length)
                    {
                        problem = "it ends with a backtick, which escapes nothing (write `` for a literal backtick)";
                        return false;
                    }

                    steps.Add(Literal(pattern[++i], ignoreCase));
                    break;
                case '[':
                    if (!TryParseSet(pattern, ref i, ignoreCase, out Step set, out problem))
                    {
                        return false;
                    }

                    steps.Add(set);
                    break;
                default:
                    steps.Add(Literal(c, ignoreCase));
                    break;
            }
        }

        wildcard = new Wildcard([.. steps], ignoreCase);
        return true;
    }

    public bool IsMatch(ReadOnlySpan<char> text)
    {
        Step[] steps = _steps;
        int s = 0, t = 0;
        int afterStar = -1, starText = -1;
        while (t < text.Length)
        {
            if (s < steps.Length && steps[s].Kind == StepKind.Star)
            {
                afterStar = ++s;
                starText = t;
                continue;
            }

            if (s < steps.Length && steps[s].Matches(_ignoreCase ? char.ToLowerInvariant(text[t]) : text[t]))
            {
                s++;
                t++;
                continue;
            }

            if (afterStar < 0)
            {
                return false;
            }

            // Every step between two stars takes exactly one character, so the last star taking one
            // more character is the only retry that can succeed: earlier stars never need to.
            s = afterStar;
            t = ++starText;
        }

        while (s < steps.Length && steps[s].Kind == StepKind.Star)
        {
            s++;
        }

        return s == steps.Length;
    }

    private static Step Literal(char c, bool ignoreCase) => new(StepKind.Literal, ignoreCase ? char.ToLowerInvariant(c) : c, null);

    /// <summary>Reads a set that starts at <paramref name="i"/> ('['), leaving <paramref name="i"/> on its ']'.</summary>
    private static bool TryParseSet(string pattern, ref int i, bool ignoreCase, out Step set, out string? problem)
    {
        set = default;
        problem = null;
        int open = i;
        var members = new List<(char From, char To)>();
        for (i++; i < pattern.Length && pattern[i] != ']'; i++)
        {
            char from = pattern[i];
            if (from == '`' && i + 1 < pattern.Length)
            {
                from = pattern[++i];
            }

            char to = from;
            if (i + 2 < pattern.Length && pattern[i + 1] == '-' && pattern[i + 2] != ']')
            {
                i += 2;
                to = pattern[i] == '`' && i + 1 < pattern.Length ? pattern[++i] : pattern[i];
            }

            if (ignoreCase)
            {
                (from, to) = (char.ToLowerInvariant(from), char.ToLowerInvariant(to));
            }

            members.Add(from <= to ? (from, to) : (to, from));
        }

        if (i >= pattern.Length)
        {
            problem = $"the '[' at position {open + 1} opens a character set that no ']' closes (write `[ for a literal bracket)";
            return false;
        }

        if (members.Count == 0)
        {
            problem = $"the set '[]' at position {open + 1} is empty and can match no character";
            return false;
        }

        set = new Step(StepKind.Set, default, [.. members]);
        return true;
    }

    private enum StepKind : byte
    {
        Literal,
        Any,
        Set,
        Star,
    }

    /// <param name="Kind">What the step takes: one literal character, any one, one of a set, or any run.</param>
    /// <param name="Char">The literal's character (lowered when matching ignores case).</param>
    /// <param name="Ranges">A set's members as inclusive ranges (lowered when matching ignores case).</param>
    private readonly record struct Step(StepKind Kind, char Char, (char From, char To)[]? Ranges)
    {
        public bool Matches(char c)
        {
            switch (Kind)
            {
                case StepKind.Literal:
                    return c == Char;
                case StepKind.Any:
                    return true;
                case StepKind.Set:
                    foreach ((char from, char to) in Ranges!)
                    {
                        if (c >= from && c <= to)
                        {
                            return true;
                        }
                    }

                    return false;
                default:
                    return false;
            }
        }
    }
}
