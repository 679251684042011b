using System.Runtime.InteropServices;
using System.Text;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>The open decoder on records built byte by byte, as the BPF program writes them.</summary>
public sealed unsafe class OpenDecoderTests
{
    private readonly EventFactory _events = new(BootClock.Now());
    private readonly IRecordDecoder _decoder;

    public OpenDecoderTests() => _decoder = new OpenGadget().CreateDecoder(new TraceRequest(), _events);

    [Theory]
    [InlineData("/etc/hosts", "/etc/hosts")]
    [InlineData("/", "/")]
    [InlineData("/etc/", "/etc")]
    [InlineData("//etc//hosts", "/etc/hosts")]
    [InlineData("/etc/./hosts", "/etc/hosts")]
    [InlineData("/etc/ssl/../hosts", "/etc/hosts")]
    [InlineData("/etc/ssl/..", "/etc")]
    [InlineData("/etc/.", "/etc")]
    [InlineData("/..", "/")]
    [InlineData("/etc/.hidden", "/etc/.hidden")]
    [InlineData("/etc/..data/x", "/etc/..data/x")]
    public void AnAbsolutePathIsNormalizedLexically(string path, string expected)
    {
        Assert.Equal(expected, OpenGadget.FullPath(path, [], 0));
    }

    [Fact]
    public void ARelativePathJoinsTheDirectoryTheKernelSentInnermostFirst()
    {
        Assert.Equal("/var/lib/app/data.db", OpenGadget.FullPath("app/data.db", "lib\0var\0/\0"u8, OpenRecordHeader.DirResolved));
        Assert.Equal(string.Empty, OpenGadget.FullPath("data.db", "lib\0"u8, OpenRecordHeader.DirResolved | OpenRecordHeader.DirTruncated));
        Assert.Equal(string.Empty, OpenGadget.FullPath("data.db", [], 0));
    }

    [Fact]
    public void AReusedEventCarriesNothingOfItsLastUse()
    {
        OpenRecordHeader first = Header("/etc/shadow", fd: -1, error: 13, openFlags: 2, mode: 0600);
        first.Flags = OpenRecordHeader.PathTruncated;
        Event used = Decode(first);
        var written = new EventBatch();
        written.Events.Add(used);
        _events.Recycle(written);

        Event reused = Decode(Header("/etc/hostname", fd: 3, error: 0, openFlags: 0, mode: 0));

        Assert.Same(used, reused);
        Assert.Equal("/etc/hostname", reused.Open.Path);
        Assert.Equal("/etc/hostname", reused.Open.FullPath);
        Assert.Equal(3, reused.Open.Fd);
        Assert.Equal(0, reused.Open.Error);
        Assert.Equal(0u, reused.Open.Flags);
        Assert.Equal(0u, reused.Open.Mode);
        Assert.False(reused.Open.PathTruncated);
    }

    private Event Decode(OpenRecordHeader header)
    {
        byte[] record = new byte[sizeof(OpenRecordHeader)];
        MemoryMarshal.Write(record, in header);
        return _decoder.Decode(record) ?? throw new InvalidOperationException("The open decoder filtered a record out.");
    }

    private static OpenRecordHeader Header(string path, int fd, int error, uint openFlags, uint mode)
    {
        var header = new OpenRecordHeader { Fd = fd, Error = error, OpenFlags = openFlags, Mode = mode };
        header.Proc.Pid = 4242;
        Encoding.UTF8.GetBytes("cat", new Span<byte>(header.Proc.Comm, 16));
        Encoding.UTF8.GetBytes(path, new Span<byte>(header.Path, OpenRecordHeader.PathSize));
        return header;
    }
}
