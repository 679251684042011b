using System.Diagnostics.CodeAnalysis;

namespace Gadget.Schema;

/// <summary>Keeps the promise that bad input raises only <see cref="GadgetObjectException"/>.</summary>
internal static class Guard
{
    /// <summary>
    /// Runs a parse. Every check inside should catch a bad object first; if one was missed, the
    /// caller still gets the one exception type it handles for bad objects.
    /// </summary>
    public static T Parse<T>(Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (Exception e) when (IsParseFailure(e))
        {
            throw new GadgetObjectException($"The object is malformed: {e.Message}", e);
        }
    }

    [SuppressMessage("Design", "CA1031", Justification = "Only the exception types a missed bounds check raises.")]
    private static bool IsParseFailure(Exception e)
        => e is ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException or FormatException;
}
