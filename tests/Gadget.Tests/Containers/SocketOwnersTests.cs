using System.Text;
using Gadget.Agent.Containers;
using Xunit;

namespace Gadget.Tests.Containers;

/// <summary>The socket owners read from a /proc laid out in a temporary folder: links and files as the kernel shows them, names as hostile as a process may make them.</summary>
public sealed class SocketOwnersTests : IDisposable
{
    private readonly string _proc = Directory.CreateTempSubdirectory("gadget-proc-").FullName;

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    [Fact]
    public void FindsEachSocketsLowestPidHolderAndAProcessOfEachNetworkNamespace()
    {
        AddProcess(300, "nginx", netNs: 10, sockets: [1001, 1002]);
        AddProcess(200, "nginx", netNs: 10, sockets: [1001]); // a worker sharing the listener
        AddProcess(400, "app", netNs: 20, sockets: [2001], otherFiles: ["pipe:[9]", "/dev/null", "anon_inode:[eventfd]"]);
        Directory.CreateDirectory(Path.Combine(_proc, "self"));

        SocketOwners owners = SocketOwners.Scan(_proc);

        Assert.Equal(200, owners.OwnerOf(1001)!.Pid);
        Assert.Equal(300, owners.OwnerOf(1002)!.Pid);
        Assert.Equal(400, owners.OwnerOf(2001)!.Pid);
        Assert.Null(owners.OwnerOf(9));
        Assert.Null(owners.OwnerOf(0));
        Assert.Equal([10ul, 20ul], owners.NetworkNamespaces.Keys.Order());
        Assert.Equal(400, owners.MemberOf(20)!.Pid);
        Assert.Null(owners.MemberOf(30));
    }

    [Fact]
    public void ReadsANameWithSpacesAndParenthesesAndCutsItToFifteenBytes()
    {
        AddProcess(500, "a) b (c d) e f g h", netNs: 10, sockets: [1], ppid: 42, gid: 1234);

        SocketOwner owner = SocketOwner.Read(500, _proc)!;

        Assert.Equal(42, owner.Ppid);
        Assert.Equal(1234u, owner.Gid);
        Assert.Equal("a) b (c d) e f ", Encoding.UTF8.GetString(owner.Comm));
        Assert.Equal(77ul, owner.MountNs);
    }

    [Fact]
    public void AProcessThatExitedIsNoOwner()
    {
        AddProcess(600, "gone", netNs: 10, sockets: [1]);
        File.Delete(Path.Combine(_proc, "600", "stat"));

        Assert.Null(SocketOwner.Read(600, _proc));
        Assert.Null(SocketOwners.Scan(_proc).OwnerOf(1));
    }

    [Theory]
    [InlineData("socket:[12345]", 12345ul)]
    [InlineData("socket:[]", null)]
    [InlineData("socket:[12a]", null)]
    [InlineData("socket:[-1]", null)]
    [InlineData("socket:[+1]", null)]
    [InlineData("socket:[12", null)]
    [InlineData("socket:[18446744073709551616]", null)]
    [InlineData("pipe:[12345]", null)]
    [InlineData("/tmp/socket:[1]", null)]
    public void ParsesOnlyASocketsLinkTarget(string target, ulong? inode)
        => Assert.Equal(inode, OpenSockets.ParseSocketInode(System.Text.Encoding.UTF8.GetBytes(target)));

    private void AddProcess(int pid, string comm, ulong netNs, ulong[] sockets, string[]? otherFiles = null, int ppid = 1, uint gid = 0)
    {
        string root = Path.Combine(_proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Path.Combine(root, "ns"));
        Directory.CreateDirectory(Path.Combine(root, "fd"));
        File.CreateSymbolicLink(Path.Combine(root, "ns", "net"), $"net:[{netNs}]");
        File.CreateSymbolicLink(Path.Combine(root, "ns", "mnt"), "mnt:[77]");
        int fd = 3;
        foreach (string target in sockets.Select(s => $"socket:[{s}]").Concat(otherFiles ?? []))
        {
            File.CreateSymbolicLink(Path.Combine(root, "fd", (fd++).ToString(System.Globalization.CultureInfo.InvariantCulture)), target);
        }

        string shortComm = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(comm).AsSpan(0, Math.Min(15, Encoding.UTF8.GetByteCount(comm))));
        File.WriteAllText(Path.Combine(root, "stat"), $"{pid} ({shortComm}) S {ppid} {pid} {pid} 0 -1 4194560 0 0");
        File.WriteAllText(Path.Combine(root, "comm"), shortComm + "\n");
        File.WriteAllText(Path.Combine(root, "status"), $"Name:\t{shortComm}\nUid:\t0\t0\t0\t0\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n");
    }
}
