using System.Globalization;
using System.Text;

namespace Gadget;

/// <summary>
/// Text a traced process controls (its arguments, its name, a file's name) made safe to print: C0
/// and C1 control characters and DEL become visible escapes (\e, \n, \x7f …), so a file called
/// ESC]0;…BEL cannot retitle a window or clear a screen. Properties keep the raw value for scripts.
/// </summary>
public static class ControlText
{
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        int first = 0;
        while (first < text.Length && !IsControl(text[first]))
        {
            first++;
        }

        if (first == text.Length)
        {
            return text; // almost all text: no copy
        }

        var escaped = new StringBuilder(text.Length + 8).Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!IsControl(c))
            {
                escaped.Append(c);
                continue;
            }

            escaped.Append(c switch
            {
                '\x1b' => "\\e",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => $"\\x{(int)c:x2}",
            });
        }

        return escaped.ToString();
    }

    /// <summary>
    /// A value as a view shows it, for the format views' script columns: text (a string, or what
    /// any other object prints as) escaped as <see cref="Escape"/> does; numbers, times, enums,
    /// addresses and other formattable values as they are, so that PowerShell formats them as usual.
    /// </summary>
    public static object? Display(object? value) => value switch
    {
        null => null,
        string text => Escape(text),
        bool or IFormattable => value,
        IEnumerable<KeyValuePair<string, string>> pairs => Escape(string.Join(", ", pairs.Select(p => p.Key + "=" + p.Value))),
        _ => Escape(Convert.ToString(value, CultureInfo.InvariantCulture)),
    };

    /// <summary>
    /// An event's parts as its table row reads (see the generated <c>ToString</c> of each event type):
    /// formatted with the invariant culture, joined by a space, the empty ones left out.
    /// </summary>
    public static string Row(params FormattableString[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var row = new StringBuilder();
        foreach (FormattableString part in parts)
        {
            string text = part.ToString(CultureInfo.InvariantCulture);
            if (text.Length > 0)
            {
                row.Append(row.Length > 0 ? " " : string.Empty).Append(text);
            }
        }

        return row.ToString();
    }

    /// <summary>A value of a row: null for an enum's None (no error, no flags), which the views leave blank.</summary>
    public static object? Part(object? value)
        => value is Enum e && e.ToString() == "None" ? null : value;

    /// <summary>A duration as the views print it (<c>1.234ms</c>); empty for null.</summary>
    public static string Milliseconds(TimeSpan? duration)
        => duration is TimeSpan d ? d.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture) + "ms" : string.Empty;

    private static bool IsControl(char c) => c < 0x20 || (c >= 0x7f && c <= 0x9f);
}
