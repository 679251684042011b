using System.Text;
using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// Which of the filter variables and maps a host sets before load an object has: Gadget's own
/// (gadget/common.h) or Inspektor Gadget's (its filter.h and mntns_filter.h), so that a program
/// written against either set of headers is filtered in the kernel alike.
/// </summary>
internal sealed class ProgramConventions
{
    /// <summary>The error id of a process filter the program has no variable for.</summary>
    public const string FilterUnsupportedId = "ProgramFilterUnsupported";

    public const string FilterFlagName = "gadget_filter_by_mntns";

    /// <summary>The flag that makes the program check its pid set (several -Pid values).</summary>
    public const string PidSetFlag = "gadget_filter_by_pids";

    /// <summary>Gadget's selection map: 1 selected, 0 known and not selected; a namespace not in it passes.</summary>
    public const string GadgetFilterMap = "gadget_mntns_filter";

    /// <summary>Inspektor Gadget's selection map: a namespace passes only when it is a key.</summary>
    public const string InspektorFilterMap = "gadget_mntns_filter_map";

    private ProgramConventions(string? pid, string? uid, string? comm, string? filterFlag, string? filterMap, bool byPresence, string program)
    {
        PidVariable = pid;
        UidVariable = uid;
        CommVariable = comm;
        FilterFlag = filterFlag;
        FilterMap = filterMap;
        FilterMapByPresence = byPresence;
        _program = program;
    }

    private readonly string _program;

    public string? PidVariable { get; }

    public string? UidVariable { get; }

    public string? CommVariable { get; }

    /// <summary>The <c>const volatile bool</c> that turns the mount namespace filter on, or null.</summary>
    public string? FilterFlag { get; }

    /// <summary>The mount namespace selection map, or null (the agent then filters alone).</summary>
    public string? FilterMap { get; }

    /// <summary>True for Inspektor Gadget's map, where being a key is being selected.</summary>
    public bool FilterMapByPresence { get; }

    public static ProgramConventions Of(GadgetDefinition gadget, BpfObject bpf)
    {
        if (!gadget.IsUserProgram)
        {
            // The agent's own gadgets all include gadget/common.h.
            return new ProgramConventions("gadget_filter_pid", "gadget_filter_uid", "gadget_filter_comm", FilterFlagName, GadgetFilterMap, byPresence: false, gadget.Name);
        }

        string? First(params string[] names) => names.FirstOrDefault(bpf.HasConstant);
        string? map = bpf.HasMap(GadgetFilterMap) ? GadgetFilterMap : bpf.HasMap(InspektorFilterMap) ? InspektorFilterMap : null;
        string? flag = bpf.HasConstant(FilterFlagName) ? FilterFlagName : null;
        return new ProgramConventions(
            First("gadget_filter_pid", "targ_pid"),
            First("gadget_filter_uid", "targ_uid"),
            First("gadget_filter_comm", "targ_comm"),
            map is null ? null : flag,
            flag is null ? null : map,
            map == InspektorFilterMap,
            gadget.Name);
    }

    /// <summary>Writes -Pid, -Uid and -Comm into the program's filter variables; refuses one it has no variable for.</summary>
    public void SetProcessFilter(BpfObject bpf, ProcessFilter? filter)
    {
        if (filter is null)
        {
            return;
        }

        uint[] pids = [.. filter.Pids.Append(filter.Pid).Where(p => p != 0).Distinct()];
        if (pids.Length == 1)
        {
            bpf.SetConstant(Require(PidVariable, "Pid", "gadget_filter_pid or targ_pid"), pids[0]);
        }
        else if (pids.Length > 1)
        {
            if (pids.Length > Runtime.TraceRun.MaxPids)
            {
                throw new GadgetRequestException(GadgetParameters.InvalidParameterId,
                    $"A trace follows at most {Runtime.TraceRun.MaxPids} processes by pid; this one asked for {pids.Length}. Select fewer, or by container or name.");
            }

            // Several pids: a set in a map (gadget/common.h), switched on by its flag.
            if (!bpf.HasConstant(PidSetFlag) || !bpf.HasMap(Runtime.TraceRun.PidFilterMap))
            {
                throw new GadgetRequestException(FilterUnsupportedId,
                    $"The program '{_program}' has no {PidSetFlag} variable and {Runtime.TraceRun.PidFilterMap} map, so -Pid can give it one process, not {pids.Length}. " +
                    "Include gadget/common.h and check gadget_current_selected(), or filter its output with Where-Object.");
            }

            bpf.SetConstant(PidSetFlag, true);
        }

        if (filter.HasUid)
        {
            bpf.SetConstant(Require(UidVariable, "Uid", "gadget_filter_uid or targ_uid"), filter.Uid);
        }

        if (!string.IsNullOrEmpty(filter.Comm))
        {
            // The kernel keeps 15 bytes of a process name; compare what it can hold.
            byte[] comm = Encoding.UTF8.GetBytes(filter.Comm);
            bpf.SetConstant(Require(CommVariable, "Comm", "gadget_filter_comm or targ_comm"), comm.AsSpan(0, Math.Min(comm.Length, 15)));
        }
    }

    private string Require(string? variable, string parameter, string names)
        => variable ?? throw new GadgetRequestException(FilterUnsupportedId,
            $"The program '{_program}' has no {names} variable, so -{parameter} cannot filter it. " +
            $"Include a header that declares the filter variables (gadget/common.h, or Inspektor Gadget's gadget/filter.h) and check them in the program, or filter its output with Where-Object.");
}
