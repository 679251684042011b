using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>Process executions (bpf/exec.bpf.c).</summary>
internal sealed class ExecGadget : GadgetDefinition
{
    public const string IncludeFailedParameter = "include-failed";

    public override string Name => "exec";

    public override string Description => "Every process execution: pid, parent, user, file, arguments.";

    public override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        [IncludeFailedParameter] = "true: also report execs that failed (adds syscall tracepoints on execve/execveat).",
    };

    public override IReadOnlyList<ProgramAttachment> Configure(BpfObject bpf, TraceRequest request)
    {
        bool includeFailed = GadgetParameters.Bool(request, IncludeFailedParameter);
        string[] failurePrograms = ["gadget_execve_exit", "gadget_execveat_exit"];
        foreach (string program in failurePrograms)
        {
            bpf.SetAutoload(program, includeFailed);
        }

        return includeFailed ? ["gadget_exec", .. failurePrograms] : ["gadget_exec"];
    }

    public override IRecordDecoder CreateDecoder(TraceRequest request, EventFactory events) => new ExecDecoder(events);
}
