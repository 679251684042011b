using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Get-GadgetTopTcp: TCP bytes per process and connection, per interval, the busiest first.</summary>
[Cmdlet(VerbsCommon.Get, "GadgetTopTcp", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(TopTcpRow), typeof(TraceStatistics))]
public sealed class GetTopTcpCommand : TopCommand
{
    /// <summary>Only connections of this IP version (4 or 6), checked in the kernel.</summary>
    [Parameter]
    [ValidateSet("4", "6")]
    public string? Family { get; set; }

    private protected override string GadgetName => "top_tcp";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Family is not null)
        {
            parameters["family"] = int.Parse(Family, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        }
    }
}
