using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetSignal: every signal sent or raised, with its sender, its target and what became of it.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetSignal", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(SignalEvent), typeof(TraceStatistics))]
public sealed class TraceSignalCommand : TraceCommand
{
    /// <summary>Only this signal (checked in the kernel), by name or number: real-time signals (32 to 64) have no name.</summary>
    [Parameter(Position = 0)]
    [SignalNumberTransformation]
    [ValidateRange(1, 64)]
    public Signal Signal { get; set; }

    /// <summary>Only signals that were not delivered: ignored, already pending, or lost.</summary>
    [Parameter]
    public SwitchParameter Failed { get; set; }

    private protected override string GadgetName => "signal";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Signal != Signal.None)
        {
            parameters["signal"] = ((int)Signal).ToString(CultureInfo.InvariantCulture);
        }

        if (Failed)
        {
            parameters["failed"] = "true";
        }
    }
}

/// <summary>
/// Takes a signal's number as it is: PowerShell turns a number into an enum only when the enum
/// names it, and <see cref="Gadget.Signal"/> does not name the real-time signals.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SignalNumberTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        return value switch
        {
            int number => (Signal)number,
            long number when number is >= int.MinValue and <= int.MaxValue => (Signal)(int)number,
            string text when int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int number) => (Signal)number,
            _ => inputData,
        };
    }
}
