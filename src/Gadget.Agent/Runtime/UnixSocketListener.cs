using System.Net.Sockets;

namespace Gadget.Agent.Runtime;

/// <summary>
/// The local socket is the agent's only door on a host, so only root may reach it: it lives in a
/// directory that only root can enter, and the socket itself is owner-only.
/// </summary>
internal static class UnixSocketListener
{
    public static bool Prepare(string socketPath, out string? problem)
    {
        problem = null;
        string directory = Path.GetDirectoryName(Path.GetFullPath(socketPath))!;
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (!File.Exists(socketPath))
        {
            return true;
        }

        // A socket file is left behind by an agent that crashed; a live one still accepts.
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            problem = $"Another agent is already serving on {socketPath}.";
            return false;
        }
        catch (SocketException)
        {
            File.Delete(socketPath);
            return true;
        }
    }

    public static void RestrictToOwner(string socketPath)
        => File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
}
