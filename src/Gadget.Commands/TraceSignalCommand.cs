using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetSignal: every signal sent or raised, with its sender, its target and what became of it.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetSignal", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(SignalEvent), typeof(Tracing.TraceStatistics))]
public sealed class TraceSignalCommand : TraceCommand
{
    /// <summary>Only this signal (checked in the kernel).</summary>
    [Parameter(Position = 0)]
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
