using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;
using Gadget.Tests.Gadgets;
using Xunit;
using FieldKind = Gadget.Schema.FieldKind;
using WellKnownType = Gadget.Schema.WellKnownType;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The round trip of <see cref="EveryGadgetRoundTripTests"/> on records the kernel wrote: each
/// gadget's program is loaded and caused to fire, its raw ring records are kept, and each field the
/// typed event shows must be what the record's bytes hold at the place its BTF gives.
/// </summary>
[Collection(KernelTests.Name)]
public sealed partial class CapturedRecordRoundTripTests
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(5);

    [KernelFact]
    public void AnExecRecordFromTheKernel()
    {
        string comm = "gt-" + Guid.NewGuid().ToString("N")[..8];
        string program = Path.Combine(Path.GetTempPath(), comm);
        File.CreateSymbolicLink(program, "/bin/true");
        try
        {
            byte[] record = Capture("exec", bpf => SetComm(bpf, comm), () => HostProcess.Run(program, "first", "", "th\u00efrd"), _ => true);
            ExecEvent e = AssertRoundTrip<ExecEvent>("exec", record);

            Assert.Equal(comm, e.Comm);
            Assert.Equal([program, "first", "", "th\u00efrd"], e.Args);
        }
        finally
        {
            File.Delete(program);
        }
    }

    [KernelFact]
    public void AnOpenRecordFromTheKernel()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gadget-open-{Guid.NewGuid():N}");
        try
        {
            byte[] pathBytes = Encoding.UTF8.GetBytes(path);
            GadgetDefinition open = TestGadgets.Get("open");
            FieldSchema pathField = open.Tracer.Event.Find("path")!;
            byte[] record = Capture("open", SetOurPid, () => File.WriteAllText(path, "x"), r => r.AsSpan(pathField.Offset, pathField.Size).StartsWith(pathBytes));
            OpenEvent e = AssertRoundTrip<OpenEvent>("open", record, derived: new() { ["full_path"] = path });

            Assert.Equal(path, e.Path);
            Assert.True(e.Fd >= 0);
            Assert.Equal(FileAccess.Write, e.Access);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [KernelFact]
    public void ASignalRecordFromTheKernel()
    {
        using System.Diagnostics.Process child = System.Diagnostics.Process.Start("/bin/sleep", "30")!;
        GadgetDefinition signal = TestGadgets.Get("signal");
        FieldSchema target = signal.Tracer.Event.Find("target_pid")!;
        byte[] record = Capture("signal", SetOurPid, () => Assert.Equal(0, kill(child.Id, 15)), r => BinaryPrimitives.ReadInt32LittleEndian(r.AsSpan(target.Offset)) == child.Id);
        child.WaitForExit(5000);
        SignalEvent e = AssertRoundTrip<SignalEvent>("signal", record);

        Assert.Equal(Gadget.Signal.SIGTERM, e.Signal);
        Assert.Equal((uint)child.Id, e.TargetPid);
    }

    [KernelFact]
    public void AFloodRecordFromTheKernel()
    {
        byte[] record = Capture("flood", SetOurPid, () => Assert.Equal(getppid(), getppid()), _ => true);
        ExecEvent e = AssertRoundTrip<ExecEvent>("flood", record);

        Assert.Equal(["flood", "0"], e.Args);
    }

    /// <summary>
    /// Each field as the client shows it must be what the raw record holds there: read here
    /// independently of the agent's decoder, by the field's kind, size and sign.
    /// </summary>
    private static T AssertRoundTrip<T>(string gadgetName, byte[] record, Dictionary<string, object?>? derived = null)
        where T : GadgetEvent
    {
        GadgetDefinition gadget = TestGadgets.Get(gadgetName);
        T e = new AgentRows(gadget).Single<T>(record);
        foreach (SchemaField field in gadget.Schema.Fields)
        {
            object? expected = field.Source is FieldSchema source
                ? Read(record, source)
                : derived is not null && derived.TryGetValue(field.Name, out object? value) ? value : throw new InvalidOperationException($"No expected value for derived field '{field.Name}'.");
            if (field.WellKnown == WellKnownType.ThreadComm && expected is "")
            {
                // The program zeroes a thread's name that is the process's own: ThreadName is null then.
                expected = null;
            }

            Assert.Equal((field.Name, EveryGadgetRoundTripTests.Canonical(expected)), (field.Name, EveryGadgetRoundTripTests.Canonical(EveryGadgetRoundTripTests.Actual(e, gadget.Schema, field))));
        }

        Assert.Equal(Environment.ProcessId, gadgetName == "exec" ? e.Ppid : e.Pid);
        return e;
    }

    private static object? Read(byte[] record, FieldSchema field)
    {
        int end = Math.Min(field.Offset + field.Size, record.Length);
        ReadOnlySpan<byte> bytes = record.AsSpan(field.Offset, Math.Max(0, end - field.Offset));
        switch (field.Kind)
        {
            case FieldKind.Bool:
                return bytes[0] != 0;
            case FieldKind.String:
                int nul = bytes.IndexOf((byte)0);
                return Encoding.UTF8.GetString(nul >= 0 ? bytes[..nul] : bytes);
            case FieldKind.StringList:
                string text = Encoding.UTF8.GetString(bytes);
                return text.Length == 0 ? Array.Empty<string>() : text.TrimEnd('\0').Split('\0');
            case FieldKind.L4Endpoint or FieldKind.L3Endpoint:
                EndpointLayout layout = field.Endpoint!;
                IPAddress address = bytes[layout.VersionOffset] switch
                {
                    4 => new IPAddress(bytes.Slice(layout.AddressOffset, 4)),
                    6 => new IPAddress(bytes.Slice(layout.AddressOffset, 16)),
                    _ => IPAddress.None,
                };
                return field.Kind == FieldKind.L3Endpoint ? address : new IPEndPoint(address, BinaryPrimitives.ReadUInt16LittleEndian(bytes[layout.PortOffset!.Value..]));
            case FieldKind.Int or FieldKind.Enum or FieldKind.Pointer:
                ulong raw = field.Size switch
                {
                    1 => bytes[0],
                    2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                    4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
                    _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
                };
                long signed = field.Signed && field.Size < 8 ? (long)(raw << (64 - (8 * field.Size))) >> (64 - (8 * field.Size)) : (long)raw;
                return field.WellKnown switch
                {
                    WellKnownType.Timestamp => ClientRows.Time(raw),
                    WellKnownType.Duration => TimeSpan.FromTicks((long)(raw / 100)),
                    _ => field.Signed ? signed : raw,
                };
            default:
                return bytes.ToArray();
        }
    }

    /// <summary>Loads the gadget's program as a trace does, runs <paramref name="cause"/>, and returns the first record <paramref name="wanted"/> accepts.</summary>
    private static byte[] Capture(string gadgetName, Action<BpfObject> configure, Action cause, Func<byte[], bool> wanted)
    {
        GadgetDefinition gadget = TestGadgets.Get(gadgetName);
        KernelFilesystems.EnsureMounted();
        using BpfObject bpf = BpfObject.Open(gadget.Program, gadget.Name);
        configure(bpf);
        gadget.Hook?.Configure(bpf, new TraceRequest { Gadget = gadget.Name });
        bpf.Load();
        var sink = new CopySink();
        var links = new List<BpfLink>();
        try
        {
            using (var reader = new RingBufferReader(bpf.GetMap(gadget.Tracer.MapName), sink, TimeSpan.FromMilliseconds(10)))
            {
                links.AddRange(bpf.Programs.Where(p => p.Autoload).Select(p => bpf.Attach(p.Name)));
                reader.Start();
                cause();
                Assert.True(Eventually.True(() => sink.Records.Any(wanted), EventTimeout), $"The {gadget.Name} program wrote no record of ours.");
            }

            return sink.Records.First(wanted);
        }
        finally
        {
            links.ForEach(l => l.Dispose());
        }
    }

    private static void SetOurPid(BpfObject bpf) => bpf.SetConstant("gadget_filter_pid", (uint)Environment.ProcessId);

    private static void SetComm(BpfObject bpf, string comm) => bpf.SetConstant("gadget_filter_comm", Encoding.UTF8.GetBytes(comm).AsSpan());

    /// <summary>Keeps a copy of every record (the span is valid only during the call).</summary>
    private sealed class CopySink : IRingRecordSink
    {
        public ConcurrentQueue<byte[]> Records { get; } = new();

        public void OnRecord(ReadOnlySpan<byte> record) => Records.Enqueue(record.ToArray());

        public void OnDrained()
        {
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc")]
    private static partial int getppid();
}
