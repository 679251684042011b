using System.Runtime.InteropServices;
using System.Text;
using Gadget.Bpf;
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

/// <summary>Process executions (bpf/exec.bpf.c).</summary>
internal sealed class ExecGadget : GadgetDefinition
{
    public const string IncludeFailedParameter = "include-failed";

    public override string Name => "exec";

    public override string Description => "Every process execution: pid, parent, user, file, arguments.";

    public override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        [IncludeFailedParameter] = "true: also report execs that failed (adds syscall tracepoints on execve/execveat).",
    };

    public override IReadOnlyList<ProgramAttachment> Configure(BpfObject bpf, TraceRequest request)
    {
        bool includeFailed = GadgetParameters.Bool(request, IncludeFailedParameter);
        string[] failurePrograms = ["gadget_execve_enter", "gadget_execveat_enter", "gadget_execve_exit", "gadget_execveat_exit"];
        foreach (string program in failurePrograms)
        {
            bpf.SetAutoload(program, includeFailed);
        }

        return includeFailed ? ["gadget_exec", .. failurePrograms] : ["gadget_exec"];
    }

    public override IRecordDecoder CreateDecoder(TraceRequest request, BootClock clock) => new Decoder(clock);

    private sealed unsafe class Decoder(BootClock clock) : IRecordDecoder
    {
        public Event? Decode(ReadOnlySpan<byte> record)
        {
            ref readonly ExecRecordHeader header = ref RecordReader.Header<ExecRecordHeader>(record);
            ReadOnlySpan<byte> args = record[sizeof(ExecRecordHeader)..];
            if (header.ArgsSizeUsed < args.Length)
            {
                args = args[..(int)header.ArgsSizeUsed];
            }

            var payload = new ExecPayload
            {
                Error = header.Error,
                ArgsTruncated = (header.Flags & ExecRecordHeader.ArgsTruncated) != 0,
            };
            fixed (byte* filename = header.Filename)
            {
                payload.ExePath = RecordReader.CString(new ReadOnlySpan<byte>(filename, ExecRecordHeader.FilenameSize));
            }

            AddArgs(payload.Args, args);
            Event e = RecordReader.NewEvent(header.Proc, header.TimestampNs, clock);
            e.Exec = payload;
            return e;
        }

        /// <summary>argv arrives as NUL-separated strings; a trailing NUL closes the last one.</summary>
        private static void AddArgs(Google.Protobuf.Collections.RepeatedField<string> target, ReadOnlySpan<byte> args)
        {
            while (!args.IsEmpty)
            {
                int end = args.IndexOf((byte)0);
                ReadOnlySpan<byte> arg = end < 0 ? args : args[..end];
                target.Add(Encoding.UTF8.GetString(arg));
                args = end < 0 ? [] : args[(end + 1)..];
            }
        }
    }
}
