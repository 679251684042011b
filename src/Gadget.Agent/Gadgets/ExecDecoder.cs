using System.Runtime.InteropServices;
using System.Text;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>Mirror of <c>struct exec_event</c> (bpf/exec.h) up to, not including, the args buffer.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ExecRecordHeader
{
    public const int FilenameSize = 256;
    public const int ArgsSize = 4096;
    public const uint ArgsTruncated = 1;

    public ulong TimestampNs;
    public ProcessRecord Proc;
    public int Error;
    public uint Flags;
    public uint ArgsSizeUsed;
    public uint Pad;
    public fixed byte Filename[FilenameSize];
}

/// <summary>
/// Decodes <c>struct exec_event</c> records into exec events. Shared by every gadget that writes
/// exec_events (exec, flood).
/// </summary>
internal sealed unsafe class ExecDecoder(EventFactory events) : IRecordDecoder
{
    public Event? Decode(ReadOnlySpan<byte> record)
    {
        ref readonly ExecRecordHeader header = ref RecordReader.Header<ExecRecordHeader>(record);
        ReadOnlySpan<byte> args = record[sizeof(ExecRecordHeader)..];
        if (header.ArgsSizeUsed < args.Length)
        {
            args = args[..(int)header.ArgsSizeUsed];
        }

        Event e = events.New(header.Proc, header.TimestampNs);
        ExecPayload payload = e.Exec ?? new ExecPayload();
        payload.Error = header.Error;
        payload.ArgsTruncated = (header.Flags & ExecRecordHeader.ArgsTruncated) != 0;
        payload.Args.Clear();
        fixed (byte* filename = header.Filename)
        {
            var path = new ReadOnlySpan<byte>(filename, ExecRecordHeader.FilenameSize);
            int end = path.IndexOf((byte)0);
            payload.ExePath = ShortStringCache.Get(end < 0 ? path : path[..end]);
        }

        AddArgs(payload.Args, args);
        e.Exec = payload;
        return e;
    }

    /// <summary>argv arrives as NUL-separated strings; a trailing NUL closes the last one.</summary>
    /// <remarks>argv[0] repeats like the path does; the rest rarely do and are decoded each time.</remarks>
    private static void AddArgs(Google.Protobuf.Collections.RepeatedField<string> target, ReadOnlySpan<byte> args)
    {
        while (!args.IsEmpty)
        {
            int end = args.IndexOf((byte)0);
            ReadOnlySpan<byte> arg = end < 0 ? args : args[..end];
            target.Add(target.Count == 0 ? ShortStringCache.Get(arg) : Encoding.UTF8.GetString(arg));
            args = end < 0 ? [] : args[(end + 1)..];
        }
    }
}
