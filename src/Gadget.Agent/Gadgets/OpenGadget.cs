using System.Runtime.InteropServices;
using System.Text;
using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>Mirror of <c>struct open_event</c> (bpf/open.h) up to, not including, the dir buffer.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OpenRecordHeader
{
    public const int PathSize = 256;
    public const int DirSize = 1024;
    public const uint PathTruncated = 1;
    public const uint DirTruncated = 2;
    public const uint DirResolved = 4;

    public ulong TimestampNs;
    public ProcessRecord Proc;
    public int Error;
    public int Fd;
    public uint OpenFlags;
    public uint Mode;
    public uint Flags;
    public uint DirSizeUsed;
    public fixed byte Path[PathSize];
}

/// <summary>File opens (bpf/open.bpf.c): open, openat, openat2, creat.</summary>
internal sealed class OpenGadget : GadgetDefinition
{
    public const string PathParameter = "path";
    public const string AccessParameter = "access";
    public const string FailedParameter = "failed";

    public override string Name => "open";

    public override string Description => "Every file open: process, path, flags, result.";

    public override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        [PathParameter] = "Only this absolute path; * ? [] wildcards allowed (their literal prefix is checked in the kernel).",
        [AccessParameter] = "read, write or readwrite: only opens that can read (O_RDONLY, O_RDWR), write (O_WRONLY, O_RDWR) or both (O_RDWR).",
        [FailedParameter] = "true: only opens that failed.",
    };

    public override IReadOnlyList<ProgramAttachment> Configure(BpfObject bpf, TraceRequest request)
    {
        if (GadgetParameters.Bool(request, FailedParameter))
        {
            bpf.SetConstant("gadget_open_failed_only", true);
        }

        if (AccessMask(request) is uint mask)
        {
            bpf.SetConstant("gadget_open_accmode_mask", mask);
        }

        if (PathPattern.FromRequest(request) is PathPattern pattern)
        {
            byte[] prefix = Encoding.UTF8.GetBytes(pattern.KernelPrefix);
            bpf.SetConstant("gadget_open_path", prefix.AsSpan(0, Math.Min(prefix.Length, OpenRecordHeader.PathSize - 1)));
            bpf.SetConstant("gadget_open_path_is_prefix", pattern.HasWildcards || prefix.Length >= OpenRecordHeader.PathSize);
        }

        // Exits only: each reads its open's arguments from the registers the syscall began with.
        return ["gadget_open_exit", "gadget_creat_exit", "gadget_openat_exit", "gadget_openat2_exit"];
    }

    public override IRecordDecoder CreateDecoder(TraceRequest request, EventFactory events)
        => new Decoder(events, PathPattern.FromRequest(request));

    /// <summary>Bits (1 &lt;&lt; (flags &amp; O_ACCMODE)) that pass: O_RDONLY 0, O_WRONLY 1, O_RDWR 2.</summary>
    private static uint? AccessMask(TraceRequest request)
    {
        if (!request.Parameters.TryGetValue(AccessParameter, out string? access) || string.IsNullOrEmpty(access))
        {
            return null;
        }

        return access.ToUpperInvariant() switch
        {
            "READ" => (1u << 0) | (1u << 2),
            "WRITE" => (1u << 1) | (1u << 2),
            "READWRITE" => 1u << 2,
            _ => throw new GadgetRequestException(GadgetParameters.InvalidParameterId,
                $"Parameter '{AccessParameter}' must be read, write or readwrite, not '{access}'."),
        };
    }

    private sealed unsafe class Decoder(EventFactory events, PathPattern? pattern) : IRecordDecoder
    {
        public Event? Decode(ReadOnlySpan<byte> record)
        {
            ref readonly OpenRecordHeader header = ref RecordReader.Header<OpenRecordHeader>(record);
            string path;
            fixed (byte* pathBytes = header.Path)
            {
                path = RecordReader.CString(new ReadOnlySpan<byte>(pathBytes, OpenRecordHeader.PathSize));
            }

            ReadOnlySpan<byte> dir = record[sizeof(OpenRecordHeader)..];
            if (header.DirSizeUsed < dir.Length)
            {
                dir = dir[..(int)header.DirSizeUsed];
            }

            string fullPath = FullPath(path, dir, header.Flags);
            if (pattern is not null && !pattern.Matches(fullPath))
            {
                return null;
            }

            Event e = events.New(header.Proc, header.TimestampNs);
            OpenPayload payload = e.Open ?? new OpenPayload();
            payload.Path = path;
            payload.FullPath = fullPath;
            payload.Fd = header.Fd;
            payload.Error = header.Error;
            payload.Flags = header.OpenFlags;
            payload.Mode = header.Mode;
            payload.PathTruncated = (header.Flags & OpenRecordHeader.PathTruncated) != 0;
            e.Open = payload;
            return e;
        }
    }

    /// <summary>
    /// The absolute path: an absolute path as is; a relative one joined to its directory, whose
    /// components the kernel sent innermost first. Empty when the directory is unknown or was cut.
    /// </summary>
    internal static string FullPath(string path, ReadOnlySpan<byte> dirComponents, uint flags)
    {
        if (path.StartsWith('/'))
        {
            return Normalize(path);
        }

        if ((flags & OpenRecordHeader.DirResolved) == 0 || (flags & OpenRecordHeader.DirTruncated) != 0)
        {
            return string.Empty;
        }

        var parts = new List<string>();
        while (!dirComponents.IsEmpty)
        {
            int end = dirComponents.IndexOf((byte)0);
            ReadOnlySpan<byte> part = end < 0 ? dirComponents : dirComponents[..end];
            if (!part.IsEmpty && !part.SequenceEqual("/"u8))
            {
                parts.Add(Encoding.UTF8.GetString(part));
            }

            dirComponents = end < 0 ? [] : dirComponents[(end + 1)..];
        }

        parts.Reverse();
        return Normalize("/" + string.Join('/', parts) + "/" + path);
    }

    /// <summary>Removes "." and empty segments and applies ".." lexically, as a reader expects.</summary>
    private static string Normalize(string absolute)
    {
        if (IsNormal(absolute))
        {
            return absolute; // most paths: no split, list and join per open
        }

        var segments = new List<string>();
        foreach (string segment in absolute.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (segments.Count > 0)
                {
                    segments.RemoveAt(segments.Count - 1);
                }

                continue;
            }

            segments.Add(segment);
        }

        return "/" + string.Join('/', segments);
    }

    private static bool IsNormal(string absolute)
        => absolute == "/"
            || (!absolute.EndsWith('/') && !absolute.EndsWith("/.", StringComparison.Ordinal) && !absolute.EndsWith("/..", StringComparison.Ordinal)
                && !absolute.Contains("//", StringComparison.Ordinal) && !absolute.Contains("/./", StringComparison.Ordinal)
                && !absolute.Contains("/../", StringComparison.Ordinal));
}
