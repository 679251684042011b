using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>Process executions (bpf/exec): loads the failed-exec programs only when asked.</summary>
internal sealed class ExecGadget : GadgetHook
{
    public const string IncludeFailedParameter = "include-failed";

    /// <summary>The syscall exits that report failed execs: they slow every syscall on the host, so they load only on request.</summary>
    private static readonly string[] FailurePrograms = ["gadget_execve_exit", "gadget_execveat_exit"];

    public override void Configure(BpfObject bpf, TraceRequest request)
    {
        bool includeFailed = GadgetParameters.Bool(request, IncludeFailedParameter);
        foreach (string program in FailurePrograms)
        {
            bpf.SetAutoload(program, includeFailed);
        }
    }
}
