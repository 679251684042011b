using System.Runtime.InteropServices;
using System.Text;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>The exec decoder on records built byte by byte, as the BPF program writes them.</summary>
public sealed unsafe class ExecDecoderTests
{
    private readonly IRecordDecoder _decoder = new ExecGadget().CreateDecoder(new TraceRequest(), BootClock.Now());

    [Fact]
    public void DecodesProcessAndExecFields()
    {
        ulong bootNs = BootClock.BootNanoseconds();
        ExecRecordHeader header = Header(exePath: "/usr/bin/ls", comm: "ls", argsBytes: 12);
        header.TimestampNs = bootNs;

        Event e = Decode(header, "ls\0-la\0/tmp\0"u8);

        Assert.Equal(4242u, e.Pid);
        Assert.Equal(4243u, e.Tid);
        Assert.Equal(17u, e.Ppid);
        Assert.Equal(1000u, e.Uid);
        Assert.Equal(1001u, e.Gid);
        Assert.Equal(4026531840ul, e.MntnsId);
        Assert.Equal(4026531992ul, e.NetnsId);
        Assert.Equal("ls", e.Comm);
        Assert.Equal(Event.PayloadOneofCase.Exec, e.PayloadCase);
        Assert.Equal("/usr/bin/ls", e.Exec.ExePath);
        Assert.Equal(["ls", "-la", "/tmp"], e.Exec.Args);
        Assert.False(e.Exec.ArgsTruncated);
        Assert.Equal(0, e.Exec.Error);

        // Boot-clock time becomes wall-clock time: the record was stamped just now.
        DateTime stamped = DateTime.UnixEpoch.AddTicks(e.TimestampUnixNs / 100);
        Assert.InRange(stamped, DateTime.UtcNow.AddSeconds(-5), DateTime.UtcNow.AddSeconds(1));
    }

    [Theory]
    [InlineData("ls\0-la\0/tmp\0", new[] { "ls", "-la", "/tmp" })]
    [InlineData("ls\0-la", new[] { "ls", "-la" })] // the last argument lacks its NUL (cut by the size limit)
    [InlineData("sh\0\0x\0", new[] { "sh", "", "x" })] // an empty argument is an argument
    [InlineData("echo\0h\u00e9llo \u2713\0", new[] { "echo", "h\u00e9llo \u2713" })]
    [InlineData("", new string[0])]
    public void SplitsArguments(string args, string[] expected)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(args);
        Event e = Decode(Header(argsBytes: (uint)bytes.Length), bytes);

        Assert.Equal(expected, e.Exec.Args);
    }

    [Fact]
    public void ReadsOnlyTheArgumentBytesTheProgramWrote()
    {
        Event e = Decode(Header(argsBytes: 3), "ls\0stale\0"u8);

        Assert.Equal(["ls"], e.Exec.Args);
    }

    [Fact]
    public void ReportsTruncatedArguments()
    {
        ExecRecordHeader header = Header(argsBytes: 4);
        header.Flags = ExecRecordHeader.ArgsTruncated;

        Assert.True(Decode(header, "yes\0"u8).Exec.ArgsTruncated);
    }

    [Fact]
    public void ReportsTheErrorOfAFailedExec()
    {
        ExecRecordHeader header = Header(exePath: "/nonexistent", argsBytes: 13);
        header.Error = 2;

        Event e = Decode(header, "/nonexistent\0"u8);

        Assert.Equal(2, e.Exec.Error);
        Assert.Equal("/nonexistent", e.Exec.ExePath);
        Assert.Equal(["/nonexistent"], e.Exec.Args);
    }

    [Fact]
    public void KeepsAPathThatFillsTheWholeFilenameBuffer()
    {
        string longPath = "/" + new string('a', ExecRecordHeader.FilenameSize - 1);

        Assert.Equal(longPath, Decode(Header(exePath: longPath), []).Exec.ExePath);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-1)] // one byte short of the header
    public void RejectsARecordShorterThanTheHeader(int length)
    {
        byte[] record = new byte[length >= 0 ? length : sizeof(ExecRecordHeader) + length];

        Assert.Throws<MalformedRecordException>(() => _decoder.Decode(record));
    }

    private Event Decode(ExecRecordHeader header, ReadOnlySpan<byte> args)
    {
        byte[] record = new byte[sizeof(ExecRecordHeader) + args.Length];
        MemoryMarshal.Write(record, in header);
        args.CopyTo(record.AsSpan(sizeof(ExecRecordHeader)));
        return _decoder.Decode(record) ?? throw new InvalidOperationException("The exec decoder filtered a record out.");
    }

    private static ExecRecordHeader Header(string exePath = "/bin/true", string comm = "true", uint argsBytes = 0)
    {
        var header = new ExecRecordHeader { ArgsSizeUsed = argsBytes };
        header.Proc.Pid = 4242;
        header.Proc.Tid = 4243;
        header.Proc.Ppid = 17;
        header.Proc.Uid = 1000;
        header.Proc.Gid = 1001;
        header.Proc.MntnsId = 4026531840;
        header.Proc.NetnsId = 4026531992;
        Encoding.UTF8.GetBytes(comm, new Span<byte>(header.Proc.Comm, 16));
        Encoding.UTF8.GetBytes(exePath, new Span<byte>(header.Filename, ExecRecordHeader.FilenameSize));
        return header;
    }
}
