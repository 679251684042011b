using System.Text;
using Gadget.Agent.Gadgets;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// Open records built as bpf/open writes them (laid out by the object's BTF), decoded by the
/// generic decoder and the open hook (full path, path filter), read back as <see cref="OpenEvent"/>.
/// </summary>
public sealed class OpenDecoderTests
{
    // enum open_dir_flags (bpf/open/open.h): the program stores it in a __u8, so BTF does not carry the enum.
    private const byte DirTruncated = 1;
    private const byte DirResolved = 2;

    private readonly GadgetDefinition _gadget = TestGadgets.Get("open");

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
        Assert.Equal(expected, Decode(Record(path)).FullPath);
    }

    [Fact]
    public void ARelativePathJoinsTheDirectoryTheKernelSentInnermostFirst()
    {
        Assert.Equal("/var/lib/app/data.db", OpenGadget.FullPath("app/data.db", "lib\0var\0/\0"u8, DirResolved));
        Assert.Equal(string.Empty, OpenGadget.FullPath("data.db", "lib\0"u8, DirResolved | DirTruncated));
        Assert.Equal(string.Empty, OpenGadget.FullPath("data.db", [], 0));
    }

    [Fact]
    public void ARelativeOpenCarriesItsPathAsPassedAndItsFullPath()
    {
        OpenEvent e = Decode(Record("app/../app/data.db", dir: "lib\0var\0/\0"u8, dirFlags: DirResolved));

        Assert.Equal("app/../app/data.db", e.Path);
        Assert.Equal("/var/lib/app/data.db", e.FullPath);
    }

    [Fact]
    public void AFullPathThatIsNotKnownIsNull()
    {
        Assert.Null(Decode(Record("data.db", dir: "lib\0"u8, dirFlags: DirResolved | DirTruncated)).FullPath);
        Assert.Null(Decode(Record("data.db")).FullPath);
    }

    [Fact]
    public void DecodesEveryField()
    {
        RecordBuilder builder = Record("/etc/shadow")
            .Set("error", 13)
            .Set("fd", -1)
            .Set("flags", 0x241) // O_WRONLY|O_CREAT|O_TRUNC
            .Set("mode", 0x81a4) // S_IFREG, rw-r--r--
            .Set("path_truncated", 1);

        OpenEvent e = Decode(builder);

        Assert.Equal(4242, e.Pid);
        Assert.Equal("cat", e.Comm);
        Assert.Equal(Errno.EACCES, e.Error);
        Assert.Equal(-1, e.Fd);
        Assert.Equal(OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, e.Flags);
        Assert.Equal("O_WRONLY|O_CREAT|O_TRUNC", e.FlagsText);
        Assert.Equal("0644", e.Mode);
        Assert.Equal(FileAccess.Write, e.Access);
        Assert.True(e.PathTruncated);
        Assert.Equal("/etc/shadow", e.Path);
        Assert.Equal("/etc/shadow", e.FullPath);
    }

    [Fact]
    public void ModeIsNullUnlessTheOpenCouldCreate()
    {
        OpenEvent e = Decode(Record("/etc/hosts").Set("mode", 0x1a4));

        Assert.Null(e.Mode);
        Assert.Equal(FileAccess.Read, e.Access);
    }

    [Theory]
    [InlineData("/etc/hosts", "/etc/hosts", true)]
    [InlineData("/etc/hosts", "/etc/hostname", false)]
    [InlineData("/etc/host*", "/etc/hostname", true)]
    [InlineData("/etc/h?sts", "/etc/hosts", true)]
    [InlineData("/etc/[a-g]*", "/etc/hosts", false)]
    [InlineData("/etc/*", "/etc/./ssl/../hosts", true)] // matched on the normalized path
    public void ThePathFilterIsAppliedToTheFullPath(string pattern, string path, bool kept)
    {
        var agent = new AgentRows(_gadget, PathRequest(pattern));

        Assert.Equal(kept, agent.Add(Record(path).Build()));
        Assert.Equal(kept ? 1 : 0, agent.Batch.Count);
    }

    [Fact]
    public void ThePathFilterMatchesARelativeOpenByTheDirectoryItResolvedIn()
    {
        var agent = new AgentRows(_gadget, PathRequest("/var/lib/app/*.db"));

        Assert.True(agent.Add(Record("data.db", dir: "app\0lib\0var\0/\0"u8, dirFlags: DirResolved).Build()));
        Assert.False(agent.Add(Record("data.db", dir: "tmp\0/\0"u8, dirFlags: DirResolved).Build()));
        // A relative open whose directory the kernel could not send cannot be matched: it is left out.
        Assert.False(agent.Add(Record("data.db", dir: "app\0"u8, dirFlags: DirResolved | DirTruncated).Build()));

        OpenEvent kept = Assert.IsType<OpenEvent>(Assert.Single(agent.ToEvents()));
        Assert.Equal("/var/lib/app/data.db", kept.FullPath);
    }

    [Fact]
    public void APathFilterMustBeAbsolute()
    {
        GadgetRequestException exception = Assert.Throws<GadgetRequestException>(() => new AgentRows(_gadget, PathRequest("etc/hosts")));

        Assert.Equal(GadgetParameters.InvalidParameterId, exception.ErrorId);
    }

    [Fact]
    public void RowsOfABatchCarryNothingOfTheirNeighbours()
    {
        var agent = new AgentRows(_gadget);
        agent.Add(Record("/etc/shadow").Set("fd", -1).Set("error", 13).Set("flags", 2).Set("mode", 0x180).Set("path_truncated", 1).Build());
        agent.Batch.Reset();
        agent.Add(Record("/etc/hostname").Set("fd", 3).Build());

        OpenEvent reused = Assert.IsType<OpenEvent>(Assert.Single(agent.ToEvents()));

        Assert.Equal("/etc/hostname", reused.Path);
        Assert.Equal("/etc/hostname", reused.FullPath);
        Assert.Equal(3, reused.Fd);
        Assert.Equal(Errno.None, reused.Error);
        Assert.Equal(OpenFlags.O_RDONLY, reused.Flags);
        Assert.Null(reused.Mode);
        Assert.False(reused.PathTruncated);
    }

    private OpenEvent Decode(RecordBuilder record) => new AgentRows(_gadget).Single<OpenEvent>(record.Build());

    private static TraceRequest PathRequest(string pattern) => new() { Gadget = "open", Parameters = { [OpenGadget.PathParameter] = pattern } };

    /// <summary>An open record as the program sends it: the directory of a relative path travels at the end, when used.</summary>
    private RecordBuilder Record(string path, ReadOnlySpan<byte> dir = default, byte dirFlags = 0)
    {
        var builder = new RecordBuilder(_gadget)
            .Set("proc.pid", 4242)
            .SetString("proc.comm", "cat")
            .SetString("path", path)
            .SetMember("__dir_flags", dirFlags)
            .SetMember("__dir_size", dir.Length);
        builder.SetBytes("__dir", dir);
        return builder.EndInTail(dir.Length);
    }
}
