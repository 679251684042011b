using System.Text;
using Gadget.Agent.Decoding;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// Exec records built as bpf/exec writes them (laid out by the object's BTF), decoded by the
/// agent's generic decoder and read back as the client's <see cref="ExecEvent"/>.
/// </summary>
public sealed class ExecDecoderTests
{
    private readonly AgentRows _agent = new(TestGadgets.Get("exec"));

    [Fact]
    public void DecodesProcessAndExecFields()
    {
        const ulong bootNs = 3_600_000_000_123;
        byte[] record = Record(exePath: "/usr/bin/ls", comm: "ls", args: "ls\0-la\0/tmp\0"u8).Set("timestamp", (long)bootNs).Build();

        ExecEvent e = _agent.Single<ExecEvent>(record);

        Assert.Equal(4242, e.Pid);
        Assert.Equal(4243, e.Tid);
        Assert.Equal(17, e.Ppid);
        Assert.Equal(1000u, e.Uid);
        Assert.Equal(1001u, e.Gid);
        Assert.Equal(4026531840ul, e.MountNsId);
        Assert.Equal(4026531992ul, e.NetNsId);
        Assert.Equal("ls", e.Comm);
        Assert.Equal("/usr/bin/ls", e.ExePath);
        Assert.Equal(["ls", "-la", "/tmp"], e.Args);
        Assert.False(e.ArgsTruncated);
        Assert.Equal(Errno.None, e.Error);

        // Boot-clock time becomes wall-clock time by the boot time the schema carries.
        Assert.Equal(ClientRows.Time(bootNs), e.Timestamp);
        Assert.Equal(DateTimeKind.Local, e.Timestamp.Kind);
    }

    [Theory]
    [InlineData("ls\0-la\0/tmp\0", new[] { "ls", "-la", "/tmp" })]
    [InlineData("ls\0-la", new[] { "ls", "-la" })] // the last argument lacks its NUL (cut by the size limit)
    [InlineData("sh\0\0x\0", new[] { "sh", "", "x" })] // an empty argument is an argument
    [InlineData("echo\0h\u00e9llo \u2713\0", new[] { "echo", "h\u00e9llo \u2713" })]
    [InlineData("", new string[0])]
    public void SplitsArguments(string args, string[] expected)
    {
        byte[] record = Record(args: Encoding.UTF8.GetBytes(args)).Build();

        Assert.Equal(expected, _agent.Single<ExecEvent>(record).Args);
    }

    [Fact]
    public void ReadsOnlyTheArgumentBytesTheRecordCarries()
    {
        // The program sends the struct up to the end of the arguments in use; what lies beyond in its
        // scratch buffer (an earlier, longer argv) never reaches the ring.
        RecordBuilder builder = Record(args: "ls\0stale\0"u8).EndInTail(3);

        Assert.Equal(["ls"], _agent.Single<ExecEvent>(builder.Build()).Args);
    }

    [Fact]
    public void ReportsTruncatedArguments()
    {
        byte[] record = Record(args: "yes\0"u8).Set("args_truncated", 1).Build();

        Assert.True(_agent.Single<ExecEvent>(record).ArgsTruncated);
    }

    [Fact]
    public void ReportsTheErrorOfAFailedExec()
    {
        byte[] record = Record(exePath: "/nonexistent", args: "/nonexistent\0"u8).Set("error", 2).Build();

        ExecEvent e = _agent.Single<ExecEvent>(record);

        Assert.Equal(Errno.ENOENT, e.Error);
        Assert.Equal("/nonexistent", e.ExePath);
        Assert.Equal(["/nonexistent"], e.Args);
    }

    [Fact]
    public void KeepsAPathThatFillsTheWholeFilenameBuffer()
    {
        RecordBuilder builder = Record();
        int size = builder.Field("exe_path").Size;
        string longPath = "/" + new string('a', size - 2);
        Assert.Equal(size - 1, Encoding.UTF8.GetByteCount(longPath));

        Assert.Equal(longPath, _agent.Single<ExecEvent>(builder.SetString("exe_path", longPath).Build()).ExePath);
    }

    [Fact]
    public void APathWithoutItsNulIsReadToTheEndOfItsArray()
    {
        // The kernel always terminates; a record that does not still cannot make the reader run past the field.
        RecordBuilder builder = Record(args: "x\0"u8);
        int size = builder.Field("exe_path").Size;
        byte[] full = [.. Enumerable.Repeat((byte)'b', size)];

        Assert.Equal(new string('b', size), _agent.Single<ExecEvent>(builder.SetBytes("exe_path", full).Build()).ExePath);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-1)] // one byte short of the fixed part
    public void RejectsARecordShorterThanTheFixedPart(int length)
    {
        int minimum = _agent.Gadget.Tracer.Event.MinimumRecordSize;
        byte[] record = new byte[length >= 0 ? length : minimum + length];

        Assert.Throws<MalformedRecordException>(() => _agent.Add(record));
        Assert.Equal(0, _agent.Batch.Count);
        Assert.Equal(0, _agent.Batch.Length);
    }

    [Fact]
    public void ARecordThatEndsWhereItsArgumentsStartHasNone()
    {
        byte[] record = Record().EndInTail(0).Build();

        Assert.Empty(_agent.Single<ExecEvent>(record).Args);
    }

    [Fact]
    public void RowsOfABatchCarryNothingOfTheirNeighbours()
    {
        // The batch's buffer is reused row after row: a short row after a long one must not show its bytes.
        _agent.Add(Record(exePath: "/usr/bin/env", comm: "env", args: "env\0-i\0/tmp\0"u8).Set("error", 2).Set("args_truncated", 1).Build());
        _agent.Add(Record(exePath: "/bin/true", comm: "true", args: "true\0"u8).Set("proc.pid", 7).Build());
        _agent.Batch.Reset();
        _agent.Add(Record(exePath: "/bin/x", comm: "x", args: "x\0"u8).Set("proc.pid", 8).Build());

        ExecEvent reused = Assert.IsType<ExecEvent>(Assert.Single(_agent.ToEvents()));

        Assert.Equal(8, reused.Pid);
        Assert.Equal("x", reused.Comm);
        Assert.Equal("/bin/x", reused.ExePath);
        Assert.Equal(["x"], reused.Args);
        Assert.Equal(Errno.None, reused.Error);
        Assert.False(reused.ArgsTruncated);
    }

    /// <summary>An exec record whose arguments end the record, with its process fields set.</summary>
    private RecordBuilder Record(string exePath = "/bin/true", string comm = "true", ReadOnlySpan<byte> args = default)
    {
        var builder = new RecordBuilder(_agent.Gadget)
            .Set("proc.pid", 4242)
            .Set("proc.tid", 4243)
            .Set("proc.ppid", 17)
            .Set("proc.uid", 1000)
            .Set("proc.gid", 1001)
            .Set("proc.mntns_id", 4026531840)
            .Set("proc.netns_id", 4026531992)
            .SetString("proc.comm", comm)
            .SetString("exe_path", exePath)
            .SetMember("__args_size", args.Length);
        builder.SetBytes("args", args);
        return builder.EndInTail(args.Length);
    }
}
