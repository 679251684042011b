using System.Runtime.CompilerServices;
using Gadget.Protocol.V1;
using Gadget.Tracing;

namespace Gadget;

/// <summary>A process execution (gadget <c>exec</c>).</summary>
public sealed class ExecEvent : GadgetEvent
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal ExecEvent(in WireEvent source, EventOrigin origin)
        : base(source, origin)
    {
        Ppid = (int)source.Ppid;
        var args = new List<string>();
        var payload = new WireReader(source.Payload);
        while (payload.TryReadTag(out int field, out WireType type))
        {
            switch (field)
            {
                case ExecPayload.ExePathFieldNumber when type == WireType.LengthDelimited:
                    ExePath = payload.ReadString();
                    break;
                case ExecPayload.ArgsFieldNumber when type == WireType.LengthDelimited:
                    args.Add(payload.ReadString());
                    break;
                case ExecPayload.ErrorFieldNumber when type == WireType.Varint:
                    Error = (Errno)payload.ReadInt32();
                    break;
                case ExecPayload.ArgsTruncatedFieldNumber when type == WireType.Varint:
                    ArgsTruncated = payload.ReadBool();
                    break;
                default:
                    payload.Skip(type);
                    break;
            }
        }

        Args = ArgumentList.Wrap(args); // nothing else holds the list
    }

    /// <summary>The parent process id.</summary>
    public int Ppid { get; }

    /// <summary>The file executed, as passed to execve.</summary>
    public string ExePath { get; } = "";

    /// <summary>The argument vector, argv[0] first; see <see cref="ArgsTruncated"/>.</summary>
    public ArgumentList Args { get; }

    /// <summary>True when argv was longer than the 4096 bytes kept.</summary>
    public bool ArgsTruncated { get; }

    /// <summary>Why the exec failed; None when it succeeded.</summary>
    public Errno Error { get; }
}
