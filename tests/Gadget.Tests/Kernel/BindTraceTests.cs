using System.Net;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The bind gadget loaded into the real kernel, watching a Python child bind listeners in a network namespace of its own.</summary>
[Collection(KernelTests.Name)]
public sealed class BindTraceTests
{
    private const int Port = 6000;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A TCP listener with SO_REUSEADDR, a UDP socket on a port the kernel picks, a bind to a port in use, a Unix socket.</summary>
    private const string Script = """
        import socket, sys
        port = int(sys.argv[1])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(('127.0.0.1', port))
        listener.listen()
        udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        udp.bind(('::1', 0))
        print('udp', udp.getsockname()[1], flush=True)
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind('\0gadget-bind-test')
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            taken.bind(('127.0.0.1', port))
        except OSError as error:
            print('taken', error.errno, flush=True)
        """;

    [KernelFact]
    public async Task ReportsAddressProtocolOptionsAndError()
    {
        using TraceRun run = PythonChild.Start("bind", new TraceRequest());
        var reader = new RunReader(run);
        (int pid, string[] output) = PythonChild.Run(Script, ["-n"], Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        List<BindEvent> events = [.. (await reader.ReadUntilAsync<BindEvent>(e => e.Pid == pid && e.Error != Errno.None, EventTimeout)).Where(e => e.Pid == pid)];
        int udpPort = int.Parse(output[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("taken 98", output[1]); // EADDRINUSE

        Assert.Equal(3, events.Count); // the Unix socket's bind is not an IP bind
        BindEvent listener = events[0];
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, Port), listener.Address);
        Assert.Equal(IpProtocol.Tcp, listener.Protocol);
        Assert.Equal(BindOptions.ReuseAddress, listener.Options);
        Assert.Equal(Errno.None, listener.Error);
        Assert.True(listener.Fd > 2);
        Assert.Equal("python3", listener.Comm);

        BindEvent udp = events[1];
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, udpPort), udp.Address); // the port the kernel chose
        Assert.Equal(IpProtocol.Udp, udp.Protocol);
        Assert.Equal(BindOptions.None, udp.Options);
        Assert.Equal(Errno.None, udp.Error);

        BindEvent taken = events[2];
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, Port), taken.Address);
        Assert.Equal(Errno.EADDRINUSE, taken.Error);
        Assert.Equal(IpProtocol.Tcp, taken.Protocol);
    }

    [KernelFact]
    public async Task PortAndFailedFiltersRunInTheKernel()
    {
        using TraceRun run = PythonChild.Start("bind", new TraceRequest { Parameters = { ["port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["failed"] = "true" } });
        var reader = new RunReader(run);
        (int pid, _) = PythonChild.Run(Script, ["-n"], Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        List<BindEvent> all = await reader.ReadUntilAsync<BindEvent>(e => e.Pid == pid, EventTimeout);

        BindEvent taken = Assert.Single(all, e => e.Pid == pid);
        Assert.Equal(Errno.EADDRINUSE, taken.Error);
        Assert.All(all, e => Assert.Equal(Port, e.Address.Port));
        Assert.All(all, e => Assert.NotEqual(Errno.None, e.Error));
    }
}
