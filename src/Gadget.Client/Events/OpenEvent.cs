using System.Runtime.CompilerServices;
using Gadget.Protocol.V1;
using Gadget.Tracing;

namespace Gadget;

/// <summary>A file open (gadget <c>open</c>): open, openat, openat2 or creat.</summary>
public sealed class OpenEvent : GadgetEvent
{
    private const uint AccessModeMask = 3;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal OpenEvent(in WireEvent source, EventOrigin origin)
        : base(source, origin)
    {
        uint flags = 0;
        uint mode = 0;
        var payload = new WireReader(source.Payload);
        while (payload.TryReadTag(out int field, out WireType type))
        {
            switch (field)
            {
                case OpenPayload.PathFieldNumber when type == WireType.LengthDelimited:
                    Path = payload.ReadString();
                    break;
                case OpenPayload.FullPathFieldNumber when type == WireType.LengthDelimited:
                    FullPath = payload.ReadString();
                    break;
                case OpenPayload.FdFieldNumber when type == WireType.Varint:
                    Fd = payload.ReadInt32();
                    break;
                case OpenPayload.ErrorFieldNumber when type == WireType.Varint:
                    Error = (Errno)payload.ReadInt32();
                    break;
                case OpenPayload.FlagsFieldNumber when type == WireType.Varint:
                    flags = payload.ReadUInt32();
                    break;
                case OpenPayload.ModeFieldNumber when type == WireType.Varint:
                    mode = payload.ReadUInt32();
                    break;
                case OpenPayload.PathTruncatedFieldNumber when type == WireType.Varint:
                    PathTruncated = payload.ReadBool();
                    break;
                default:
                    payload.Skip(type);
                    break;
            }
        }

        if (FullPath?.Length == 0)
        {
            FullPath = null;
        }

        Flags = (OpenFlags)flags;
        Mode = (Flags & (OpenFlags.O_CREAT | OpenFlags.O_TMPFILE)) != 0 ? (UnixFileMode)(mode & 0xfff) : null;
        Access = (flags & AccessModeMask) switch
        {
            1 => FileAccess.Write,
            2 => FileAccess.ReadWrite,
            _ => FileAccess.Read,
        };
    }

    /// <summary>The new file descriptor; -1 when the open failed.</summary>
    public int Fd { get; }

    /// <summary>Why the open failed (ENOENT: a wrong path); None when it succeeded.</summary>
    public Errno Error { get; }

    /// <summary>The path as the process passed it (up to 255 bytes; see <see cref="PathTruncated"/>).</summary>
    public string Path { get; } = "";

    /// <summary>The absolute path: a relative path resolved against the process's directory. Null when unknown.</summary>
    public string? FullPath { get; }

    public bool PathTruncated { get; }

    /// <summary>The O_* flags as passed.</summary>
    public OpenFlags Flags { get; }

    /// <summary>Permission bits of a created file; null unless O_CREAT or O_TMPFILE.</summary>
    public UnixFileMode? Mode { get; }

    /// <summary>Read, Write or ReadWrite, from the flags' access mode.</summary>
    public FileAccess Access { get; }

    /// <summary>The flags as the kernel headers spell them: O_WRONLY|O_CREAT|O_TRUNC.</summary>
    public string FlagsText
    {
        get
        {
            string access = (Flags & (OpenFlags)AccessModeMask) switch
            {
                OpenFlags.O_WRONLY => "O_WRONLY",
                OpenFlags.O_RDWR => "O_RDWR",
                _ => "O_RDONLY",
            };
            OpenFlags rest = Flags & ~(OpenFlags)AccessModeMask;
            return rest == 0 ? access : access + "|" + rest.ToString().Replace(", ", "|", StringComparison.Ordinal);
        }
    }
}
