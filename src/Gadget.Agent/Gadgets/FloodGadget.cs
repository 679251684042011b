using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// A synthetic event source for benchmarks and diagnostics (bpf/flood.bpf.c): each getppid() of a
/// traced process writes <see cref="RecordsPerCallParameter"/> exec records, numbered in their
/// arguments (<c>flood &lt;sequence&gt;</c>), so the delivery path can be driven faster than any
/// real hook and its completeness checked record by record.
/// </summary>
internal sealed class FloodGadget : GadgetDefinition
{
    public const string RecordsPerCallParameter = "records-per-call";
    public const int MaxRecordsPerCall = 65536;

    public override string Name => "flood";

    public override string Description =>
        "Benchmark/diagnostic: each getppid() of the traced process emits synthetic exec events numbered 0, 1, 2 … in their args. Use with -Pid.";

    public override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        [RecordsPerCallParameter] = $"events emitted per getppid() call, 1 to {MaxRecordsPerCall} (default 1).",
    };

    public override IReadOnlyList<ProgramAttachment> Configure(BpfObject bpf, TraceRequest request)
    {
        int recordsPerCall = GadgetParameters.Int(request, RecordsPerCallParameter, 1, 1, MaxRecordsPerCall);
        bpf.SetConstant("flood_records_per_call", (uint)recordsPerCall);
        return ["gadget_flood"];
    }

    public override IRecordDecoder CreateDecoder(TraceRequest request, EventFactory events) => new ExecDecoder(events);
}
