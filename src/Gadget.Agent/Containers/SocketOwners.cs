using System.Globalization;
using System.Text;

namespace Gadget.Agent.Containers;

/// <summary>
/// Which process holds each socket, and a process in each network namespace, read once from /proc
/// as ss -p does: a socket's inode appears as <c>socket:[inode]</c> among its holders' open files.
/// </summary>
/// <remarks>
/// Everything here is what processes made it: names are cut to the kernel's 15 bytes, and a process
/// that exits during the scan is skipped, not an error.
/// </remarks>
internal sealed class SocketOwners
{
    /// <summary>How many processes of one namespace are kept to enter it by, should the first exit.</summary>
    private const int EntryPointsPerNamespace = 4;

    private readonly string _procRoot;
    private readonly Dictionary<ulong, int> _ownerBySocket = [];
    private readonly Dictionary<ulong, List<int>> _processesByNetNs = [];
    private readonly Dictionary<int, SocketOwner?> _owners = [];
    private readonly List<ulong> _scratch = [];

    private SocketOwners(string procRoot) => _procRoot = procRoot;

    /// <summary>The network namespaces that have at least one process, each with a few of its processes.</summary>
    public IReadOnlyDictionary<ulong, List<int>> NetworkNamespaces => _processesByNetNs;

    /// <summary>Reads every process's network namespace and open sockets.</summary>
    public static SocketOwners Scan(string procRoot = "/proc")
    {
        var owners = new SocketOwners(procRoot);
        foreach (string directory in Directory.EnumerateDirectories(procRoot))
        {
            if (int.TryParse(Path.GetFileName(directory.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                owners.Add(pid);
            }
        }

        return owners;
    }

    /// <summary>The process holding the socket with this inode (the lowest pid when several do), or null.</summary>
    public SocketOwner? OwnerOf(ulong inode)
        => inode != 0 && _ownerBySocket.TryGetValue(inode, out int pid) ? Describe(pid) : null;

    /// <summary>A process that was in this namespace, described, or null.</summary>
    public SocketOwner? MemberOf(ulong netNs)
        => _processesByNetNs.TryGetValue(netNs, out List<int>? pids) ? pids.Select(Describe).FirstOrDefault(o => o is not null) : null;

    private void Add(int pid)
    {
        ulong netNs = ProcessNamespaces.Inode(pid, "net", _procRoot);
        if (netNs == 0)
        {
            return;
        }

        if (!_processesByNetNs.TryGetValue(netNs, out List<int>? members))
        {
            _processesByNetNs[netNs] = members = [];
        }

        if (members.Count < EntryPointsPerNamespace)
        {
            members.Add(pid);
        }

        // A process that exited, or whose files cannot be read, leaves its sockets without an owner.
        _scratch.Clear();
        if (OpenSockets.Read($"{_procRoot}/{pid}/fd", _scratch))
        {
            foreach (ulong inode in _scratch)
            {
                if (!_ownerBySocket.TryGetValue(inode, out int holder) || pid < holder)
                {
                    _ownerBySocket[inode] = pid;
                }
            }
        }
    }

    private SocketOwner? Describe(int pid)
    {
        if (!_owners.TryGetValue(pid, out SocketOwner? owner))
        {
            _owners[pid] = owner = SocketOwner.Read(pid, _procRoot);
        }

        return owner;
    }
}

/// <summary>A process as a socket's record names it: ids, name (at most 15 bytes) and mount namespace.</summary>
internal sealed record SocketOwner(int Pid, int Ppid, uint Gid, byte[] Comm, ulong MountNs)
{
    public const int CommLength = 15;

    /// <summary>The process from /proc, or null when it has exited.</summary>
    public static SocketOwner? Read(int pid, string procRoot = "/proc")
    {
        try
        {
            // stat: "pid (comm) state ppid …"; the name may hold spaces and parentheses, so read after the last ')'.
            string stat = File.ReadAllText($"{procRoot}/{pid}/stat");
            int close = stat.LastIndexOf(')');
            string[] rest = stat[(close + 2)..].Split(' ', 3);
            int ppid = int.Parse(rest[1], CultureInfo.InvariantCulture);

            byte[] name = File.ReadAllBytes($"{procRoot}/{pid}/comm");
            int length = Math.Min(name.AsSpan().IndexOf((byte)'\n') is >= 0 and var end ? end : name.Length, CommLength);

            uint gid = 0;
            foreach (string line in File.ReadLines($"{procRoot}/{pid}/status"))
            {
                if (line.StartsWith("Gid:", StringComparison.Ordinal))
                {
                    gid = uint.Parse(line.AsSpan(4).Trim().ToString().Split('\t')[0], CultureInfo.InvariantCulture);
                    break;
                }
            }

            return new SocketOwner(pid, ppid, gid, name[..length], ProcessNamespaces.Inode(pid, "mnt", procRoot));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    public override string ToString() => $"{Pid} {Encoding.UTF8.GetString(Comm)}";
}
