using System.Runtime.CompilerServices;
using Gadget.Tracing;

namespace Gadget;

/// <summary>
/// What every event says about where it came from: the node, the pod and container (empty for a
/// process on the host), and the process. Each gadget's event type adds its own fields.
/// </summary>
public abstract class GadgetEvent
{
    /// <summary>Reads the fields every event has, wherever the trace's schema puts them (by their well-known types).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected GadgetEvent(in EventRow row, EventOrigin origin)
    {
        EventBinding fields = row.Binding;
        Timestamp = row.Time(fields.Timestamp);
        Node = origin.Node;
        MountNsId = row.UInt64(fields.MountNsId);
        if (origin.ContainerOf(MountNsId) is GadgetContainer container)
        {
            Namespace = container.Namespace;
            Pod = container.Pod;
            Container = container.Container;
            ContainerId = container.Id;
            PodLabels = container.PodLabels;
        }

        Pid = row.Int32(fields.Pid);
        Tid = row.Int32(fields.Tid);
        Ppid = row.Int32(fields.Ppid);
        Uid = row.UInt32(fields.Uid);
        Gid = row.UInt32(fields.Gid);
        Comm = row.Comm(fields.Comm);
        ThreadName = row.ThreadName(fields.ThreadComm);
        if (ThreadName == Comm)
        {
            // A program that sends the name even when it is the process's (not the built-in gadgets).
            ThreadName = null;
        }
        NetNsId = row.UInt64(fields.NetNsId);
    }

    /// <summary>When the kernel saw the event, in local time (Kind Local, like Get-Date's); for a top's row, the end of its window.</summary>
    public DateTime Timestamp { get; private protected set; }

    /// <summary>The Kubernetes node; empty on a host outside Kubernetes.</summary>
    public string? Node { get; }

    /// <summary>The pod's namespace; null for a process on the host.</summary>
    public string? Namespace { get; }

    /// <summary>The pod's name; null for a process on the host.</summary>
    public string? Pod { get; }

    /// <summary>The container's name; null for a process on the host.</summary>
    public string? Container { get; }

    /// <summary>The runtime's container id; null for a process on the host.</summary>
    public string? ContainerId { get; }

    /// <summary>The pod's labels; empty for a process on the host.</summary>
    public IReadOnlyDictionary<string, string> PodLabels { get; } = Gadget.PodLabels.None;

    /// <summary>The process id (thread group id).</summary>
    public int Pid { get; }

    /// <summary>The thread id.</summary>
    public int Tid { get; }

    /// <summary>The parent process id.</summary>
    public int Ppid { get; }

    public uint Uid { get; }

    public uint Gid { get; }

    /// <summary>The process name as the kernel keeps it (at most 15 bytes): its main thread's, which -Comm matches.</summary>
    public string Comm { get; }

    /// <summary>
    /// The name of the thread that caused the event, when it has one of its own (a worker named with
    /// prctl PR_SET_NAME or pthread_setname_np, such as nslookup's isc-net-0000); null when it is
    /// <see cref="Comm"/>, or when the gadget's program does not say.
    /// </summary>
    public string? ThreadName { get; }

    /// <summary>The mount namespace: which container, when it is one.</summary>
    public ulong MountNsId { get; }

    public ulong NetNsId { get; }
}

/// <summary>What the client knows about the agent an event came from: its node and its containers.</summary>
public sealed class EventOrigin(string node)
{
    private readonly Dictionary<ulong, GadgetContainer> _containers = [];

    public string Node { get; } = node;

    internal void Learn(GadgetContainer container) => _containers[container.MountNsId] = container;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal GadgetContainer? ContainerOf(ulong mountNsId) => _containers.GetValueOrDefault(mountNsId);
}
