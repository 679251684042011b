using System.Text;
using Gadget.Agent.Decoding;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;
using BtfMember = Gadget.Bpf.BtfMember;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// File opens (bpf/open): turns the path and access parameters into the program's filters, and
/// derives each open's full path from the path as passed and the directory the kernel resolved.
/// </summary>
internal sealed class OpenGadget : GadgetHook
{
    public const string PathParameter = "path";
    public const string AccessParameter = "access";

    private const int PathSize = 256;
    private const byte DirTruncated = 1;
    private const byte DirResolved = 2;

    public override void Configure(BpfObject bpf, TraceRequest request)
    {
        if (AccessMask(request) is uint mask)
        {
            bpf.SetConstant("gadget_open_accmode_mask", mask);
        }

        if (PathPattern.FromRequest(request) is PathPattern pattern)
        {
            byte[] prefix = Encoding.UTF8.GetBytes(pattern.KernelPrefix);
            bpf.SetConstant("gadget_open_path", prefix.AsSpan(0, Math.Min(prefix.Length, PathSize - 1)));
            bpf.SetConstant("gadget_open_path_is_prefix", pattern.HasWildcards || prefix.Length >= PathSize);
        }
    }

    public override RecordHook CreateRecordHook(TraceRequest request, TraceSchema schema, BpfObject bpf)
    {
        BtfStruct layout = bpf.FindStruct("open_event") ?? throw new GadgetObjectException("The open program has no struct open_event.");
        return new FullPathHook(PathPattern.FromRequest(request), layout["path"], layout["__dir_flags"].Offset, layout["__dir"].Offset);
    }

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

    /// <summary>Adds full_path, and applies the path pattern where the kernel could not (wildcards, relative paths).</summary>
    private sealed class FullPathHook(PathPattern? pattern, BtfMember path, int dirFlagsOffset, int dirOffset) : RecordHook
    {
        public override bool Complete(ReadOnlySpan<byte> record, RowWriter row)
        {
            ReadOnlySpan<byte> pathBytes = record.Slice(path.Offset, path.Size);
            if (pathBytes.IndexOf((byte)0) is int end and >= 0)
            {
                pathBytes = pathBytes[..end];
            }

            if (pattern is null && IsNormal(pathBytes))
            {
                row.AppendVariable(pathBytes); // most opens: an absolute path is its own full path, no string made
                return true;
            }

            string fullPath = FullPath(Encoding.UTF8.GetString(pathBytes), record[dirOffset..], record[dirFlagsOffset]);
            if (pattern is not null && !pattern.Matches(fullPath))
            {
                return false;
            }

            int length = Encoding.UTF8.GetByteCount(fullPath);
            Encoding.UTF8.GetBytes(fullPath, row.BeginVariable(length));
            row.EndVariable(length);
            return true;
        }
    }

    /// <summary>
    /// The absolute path: an absolute path as is; a relative one joined to its directory, whose
    /// components the kernel sent innermost first. Empty when the directory is unknown or was cut.
    /// </summary>
    internal static string FullPath(string path, ReadOnlySpan<byte> dirComponents, byte dirFlags)
    {
        if (path.StartsWith('/'))
        {
            return Normalize(path);
        }

        if ((dirFlags & DirResolved) == 0 || (dirFlags & DirTruncated) != 0)
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

    /// <summary>An absolute path with nothing to normalize, as bytes.</summary>
    private static bool IsNormal(ReadOnlySpan<byte> path)
        => path.Length > 0 && path[0] == '/'
            && (path.Length == 1 || (path[^1] != '/' && !path.EndsWith("/."u8) && !path.EndsWith("/.."u8)
                && path.IndexOf("//"u8) < 0 && path.IndexOf("/./"u8) < 0 && path.IndexOf("/../"u8) < 0));

    private static bool IsNormal(string absolute)
        => absolute == "/"
            || (!absolute.EndsWith('/') && !absolute.EndsWith("/.", StringComparison.Ordinal) && !absolute.EndsWith("/..", StringComparison.Ordinal)
                && !absolute.Contains("//", StringComparison.Ordinal) && !absolute.Contains("/./", StringComparison.Ordinal)
                && !absolute.Contains("/../", StringComparison.Ordinal));
}
