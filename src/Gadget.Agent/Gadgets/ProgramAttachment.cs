using Gadget.Bpf;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// How one of a gadget's programs is attached once the object is loaded. A program name alone
/// (converted implicitly) attaches to the hook its ELF section names: tracepoints, raw
/// tracepoints, tp_btf. Hooks that need a target say so with their own kind.
/// </summary>
internal abstract record ProgramAttachment(string Program)
{
    /// <summary>Attaches to the hook the program's section names.</summary>
    public static implicit operator ProgramAttachment(string program) => new SectionAttachment(program);

    /// <summary>Attaches to the root of the cgroup v2 hierarchy: every socket on the host.</summary>
    public static ProgramAttachment CgroupRoot(string program) => new CgroupRootAttachment(program);

    public abstract BpfLink Attach(BpfObject bpf);

    private sealed record SectionAttachment(string Program) : ProgramAttachment(Program)
    {
        public override BpfLink Attach(BpfObject bpf) => bpf.Attach(Program);
    }

    private sealed record CgroupRootAttachment(string Program) : ProgramAttachment(Program)
    {
        public override BpfLink Attach(BpfObject bpf) => bpf.AttachCgroup(Program, KernelFilesystems.Cgroup2Root());
    }
}
