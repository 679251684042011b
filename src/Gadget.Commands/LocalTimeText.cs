using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;

namespace Gadget;

/// <summary>
/// Times as Export-Csv writes them. Export-Csv (and ConvertTo-Csv) write a property's value with its
/// parameterless ToString, which for a DateTime is the current culture's short form: no
/// milliseconds and no zone. The module's type data therefore shadows each event time property
/// (Timestamp, IntervalStart, IntervalEnd, StartTime) with a code property that returns the same
/// DateTime, in a PSObject whose own ToString() gives ISO 8601 with milliseconds and the offset
/// (2026-12-05T10:02:03.456+09:00). Everything else sees the DateTime: comparisons with Get-Date,
/// -is [datetime], .Kind, ToString('HH:mm'), -f and ConvertTo-Json.
/// </summary>
public static class LocalTimeText
{
    /// <summary>The format Export-Csv writes: ISO 8601, milliseconds, and the zone's offset.</summary>
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fffzzz";

    /// <summary>The code property for <see cref="GadgetEvent.Timestamp"/>.</summary>
    public static PSObject? Timestamp(PSObject instance) => instance?.BaseObject is GadgetEvent e ? Wrap(e.Timestamp) : null;

    /// <summary>The code property for <see cref="GadgetTopRow.IntervalStart"/>.</summary>
    public static PSObject? IntervalStart(PSObject instance) => instance?.BaseObject is GadgetTopRow row ? Wrap(row.IntervalStart) : null;

    /// <summary>The code property for <see cref="GadgetTopRow.IntervalEnd"/>.</summary>
    public static PSObject? IntervalEnd(PSObject instance) => instance?.BaseObject is GadgetTopRow row ? Wrap(row.IntervalEnd) : null;

    /// <summary>The code property for <see cref="ProcessEntry.StartTime"/>.</summary>
    public static PSObject? StartTime(PSObject instance) => instance?.BaseObject is ProcessEntry p ? Wrap(p.StartTime) : null;

    /// <summary>The DateTime, whose parameterless ToString is ISO 8601 with milliseconds and offset.</summary>
    public static PSObject Wrap(DateTime time)
    {
        var wrapped = new PSObject(time);
        wrapped.Members.Add(new IsoToString(time));
        return wrapped;
    }

    /// <summary>
    /// ToString with DateTime's overloads. PowerShell calls an object's own ToString member with the
    /// format and culture only when the member has more than one overload (string.Format, -f, a
    /// view's {0:HH:mm:ss.fff}), and without arguments otherwise (Export-Csv): so one member answers
    /// both, and a format still formats.
    /// </summary>
    private sealed class IsoToString : PSMethodInfo
    {
        private static readonly Collection<string> Overloads =
        [
            "string ToString()",
            "string ToString(string format)",
            "string ToString(System.IFormatProvider provider)",
            "string ToString(string format, System.IFormatProvider provider)",
        ];

        private readonly DateTime _time;

        public IsoToString(DateTime time)
        {
            _time = time;
            SetMemberName("ToString");
        }

        public override Collection<string> OverloadDefinitions => Overloads;

        public override PSMemberTypes MemberType => PSMemberTypes.CodeMethod;

        public override string TypeNameOfValue => typeof(string).FullName!;

        public override object Invoke(params object[] arguments)
        {
            if (arguments is null || arguments.Length == 0)
            {
                return _time.ToString(Format, CultureInfo.InvariantCulture);
            }

            object? first = Base(arguments[0]);
            object? second = arguments.Length > 1 ? Base(arguments[1]) : null;
            return first switch
            {
                IFormatProvider provider => _time.ToString(provider),
                _ => _time.ToString(first?.ToString(), second as IFormatProvider ?? CultureInfo.CurrentCulture),
            };
        }

        public override PSMemberInfo Copy() => new IsoToString(_time);

        private static object? Base(object? value) => value is PSObject wrapped ? wrapped.BaseObject : value;
    }
}
