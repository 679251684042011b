using System.Collections.ObjectModel;
using System.Text;

namespace Gadget;

/// <summary>
/// An argument vector. A list for code (<c>$e.Args[1]</c>, <c>-contains</c>, JSON arrays) that
/// prints as a command line, so tables and Export-Csv show <c>ls -la /tmp</c>, not a type name.
/// </summary>
public sealed class ArgumentList : ReadOnlyCollection<string>
{
    public ArgumentList(IList<string> arguments)
        : this(arguments, copy: arguments is not string[])
    {
    }

    private ArgumentList(IList<string> arguments, bool copy)
        : base(copy ? [.. arguments] : arguments)
    {
    }

    /// <summary>An argument list over <paramref name="arguments"/> without a copy: the caller hands it over and never changes it again.</summary>
    internal static ArgumentList Wrap(IList<string> arguments) => new(arguments, copy: false);

    /// <summary>The arguments joined by spaces, quoting those that contain spaces or quotes.</summary>
    public override string ToString()
    {
        var line = new StringBuilder();
        foreach (string argument in this)
        {
            if (line.Length > 0)
            {
                line.Append(' ');
            }

            bool quote = argument.Length == 0 || argument.AsSpan().IndexOfAny(" \t\"'") >= 0;
            line.Append(quote ? "'" + argument.Replace("'", "''", StringComparison.Ordinal) + "'" : argument);
        }

        return line.ToString();
    }
}
