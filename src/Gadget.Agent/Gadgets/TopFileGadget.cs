using System.Text;
using Gadget.Agent.Decoding;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// The file top (bpf/top_file): derives each row's path from the components the program read
/// (innermost first, NUL-separated), once per row of a window rather than once per call.
/// </summary>
internal sealed class TopFileGadget : GadgetHook
{
    private const byte PathTruncated = 1;

    public override RecordHook CreateRecordHook(TraceRequest request, TraceSchema schema, BpfObject bpf)
    {
        BtfStruct key = bpf.FindStruct("topfile_key") ?? throw new GadgetObjectException("The top_file program has no struct topfile_key.");
        BtfStruct value = bpf.FindStruct("topfile_value") ?? throw new GadgetObjectException("The top_file program has no struct topfile_value.");

        // A top's record is its key, then its value.
        return new PathHook(key.Size + value["__path_size"].Offset, key.Size + value["__path_flags"].Offset, key.Size + value["__path"].Offset, value["__path"].Size);
    }

    /// <summary>The path of components sent innermost first: "/" and the components outermost first; "…/" first when the walk was cut.</summary>
    internal static string JoinPath(ReadOnlySpan<byte> components, bool truncated)
    {
        var parts = new List<string>();
        while (!components.IsEmpty)
        {
            int end = components.IndexOf((byte)0);
            ReadOnlySpan<byte> part = end < 0 ? components : components[..end];
            if (!part.IsEmpty && !part.SequenceEqual("/"u8))
            {
                parts.Add(Encoding.UTF8.GetString(part));
            }

            components = end < 0 ? [] : components[(end + 1)..];
        }

        parts.Reverse();
        string path = string.Join('/', parts);
        return truncated ? "…/" + path : "/" + path;
    }

    private sealed class PathHook(int sizeOffset, int flagsOffset, int pathOffset, int pathSize) : RecordHook
    {
        public override bool Complete(ReadOnlySpan<byte> record, RowWriter row)
        {
            int size = Math.Min(record[sizeOffset] | (record[sizeOffset + 1] << 8), pathSize);
            string path = JoinPath(record.Slice(pathOffset, size), (record[flagsOffset] & PathTruncated) != 0);
            int length = Encoding.UTF8.GetByteCount(path);
            Encoding.UTF8.GetBytes(path, row.BeginVariable(length));
            row.EndVariable(length);
            return true;
        }
    }
}
