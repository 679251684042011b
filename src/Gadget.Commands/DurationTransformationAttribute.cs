using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>
/// Lets -Duration take what a person types: seconds (<c>10</c>, <c>2.5</c>), a TimeSpan
/// (<c>00:01:00</c>, <c>[timespan]'0:0:30'</c>) or a number with a unit (<c>500ms</c>, <c>30s</c>,
/// <c>5m</c>, <c>1h</c>). A bare number never means ticks.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DurationTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>
    /// The longest trace: the agent's timer takes at most 2^32 - 2 ms (49.7 days), and a longer
    /// duration would fail inside the agent only after its programs had attached.
    /// </summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(49);

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        TimeSpan duration;
        try
        {
            duration = value switch
            {
                TimeSpan span => span,
                int or long or short or byte or uint or ulong or ushort => TimeSpan.FromSeconds(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
                double or float or decimal => TimeSpan.FromSeconds(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
                string text => Parse(text),
                _ => throw Invalid(value),
            };
        }
        catch (OverflowException)
        {
            throw TooLong(value);
        }
        catch (ArgumentException)
        {
            // NaN seconds.
            throw Invalid(value);
        }

        if (duration > MaxDuration)
        {
            throw TooLong(duration);
        }

        return duration > TimeSpan.Zero
            ? duration
            : throw new ArgumentTransformationMetadataException($"The duration must be positive, not {duration}.");
    }

    private static ArgumentTransformationMetadataException TooLong(object value) => new(
        $"The duration {value} is too long: a trace runs at most {MaxDuration.TotalDays:0} days (the agent's timer limit). Omit -Duration to trace until Ctrl+C.");

    internal static TimeSpan Parse(string text)
    {
        string trimmed = text.Trim();
        if (double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }

        (string unit, double scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach ((string unit, double scale) in units)
        {
            if (trimmed.EndsWith(unit, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(trimmed[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double amount))
            {
                return TimeSpan.FromSeconds(amount * scale);
            }
        }

        return TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out TimeSpan span) ? span : throw Invalid(text);
    }

    private static ArgumentTransformationMetadataException Invalid(object value) => new(
        $"'{value}' is not a duration. Give seconds (10), a TimeSpan (00:01:00), or a number with a unit (500ms, 30s, 5m, 1h).");
}
