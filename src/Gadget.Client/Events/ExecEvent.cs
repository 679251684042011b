using Gadget.Protocol.V1;

namespace Gadget;

/// <summary>A process execution (gadget <c>exec</c>).</summary>
public sealed class ExecEvent : GadgetEvent
{
    internal ExecEvent(Event source, EventOrigin origin)
        : base(source, origin)
    {
        ExecPayload exec = source.Exec;
        Ppid = (int)source.Ppid;
        ExePath = exec.ExePath;
        Args = ArgumentList.Wrap(exec.Args); // the wire event is discarded after this
        ArgsTruncated = exec.ArgsTruncated;
        Error = (Errno)exec.Error;
    }

    /// <summary>The parent process id.</summary>
    public int Ppid { get; }

    /// <summary>The file executed, as passed to execve.</summary>
    public string ExePath { get; }

    /// <summary>The argument vector, argv[0] first; see <see cref="ArgsTruncated"/>.</summary>
    public ArgumentList Args { get; }

    /// <summary>True when argv was longer than the 4096 bytes kept.</summary>
    public bool ArgsTruncated { get; }

    /// <summary>Why the exec failed; None when it succeeded.</summary>
    public Errno Error { get; }
}
