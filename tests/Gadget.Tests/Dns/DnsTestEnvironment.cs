using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gadget.Agent.Decoding;
using Gadget.Agent.Gadgets.Dns;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tracing;
using Google.Protobuf;

namespace Gadget.Tests.Dns;

/// <summary>A dns trace run in this process, its events collected as the client would type them.</summary>
internal sealed class DnsCapture : IDisposable
{
    public const string NodeName = "node-1";

    private readonly TraceRun _run;
    private readonly List<DnsEvent> _events = [];
    private readonly Task _reader;

    private DnsCapture(TraceRun run)
    {
        _run = run;
        var reader = new Kernel.RunReader(run, NodeName);
        _reader = Task.Run(async () =>
        {
            await foreach (RowBatch batch in run.Batches.ReadAllAsync())
            {
                run.MarkDequeued(batch);
                lock (_events)
                {
                    _events.AddRange(reader.Read(batch).OfType<DnsEvent>());
                }
            }
        });
    }

    public static DnsCapture Start(TimeSpan responseTimeout, IDictionary<string, string>? parameters = null, ProcessFilter? filter = null)
    {
        var request = new TraceRequest { Gadget = "dns", Filter = filter };
        request.Parameters[DnsGadget.ResponseTimeoutParameter] = ((long)responseTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach ((string name, string value) in parameters ?? new Dictionary<string, string>())
        {
            request.Parameters[name] = value;
        }

        return new DnsCapture(TraceRun.Start(Gadgets.TestGadgets.Get("dns"), request, new TraceSettings(), new Gadget.Agent.Containers.ContainerCollection()));
    }

    public TraceCounters Counters => _run.Counters(0);

    public IReadOnlyList<DnsEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Waits until an event matches; returns all events then.</summary>
    public IReadOnlyList<DnsEvent> WaitFor(Func<DnsEvent, bool> match, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            IReadOnlyList<DnsEvent> events = Events;
            if (events.Any(match))
            {
                return events;
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException($"No event for {what} within {timeout}. Seen: {string.Join("; ", Events.Select(Describe))}");
    }

    public static string Describe(DnsEvent e) => $"{e.Comm}/{e.Pid} {e.Qr} {e.PacketType} {e.QType} {e.Name} {e.Rcode} {e.Src}->{e.Dst} {e.Protocol}";

    public void Dispose()
    {
        _run.StopReading();
        _reader.Wait(TimeSpan.FromSeconds(5));
        _run.Dispose();
    }
}

/// <summary>Child processes for the tests: DNS clients and servers.</summary>
internal static class Processes
{
    /// <summary>Runs a command to its end; returns its pid and output.</summary>
    public static (int Pid, int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        using Process process = Start(file, arguments);
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish.");
        }

        return (process.Id, process.ExitCode, output);
    }

    public static Process Start(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
    }

    /// <summary>Starts dnsmasq in the foreground with the test zone and waits until it answers.</summary>
    public static Process StartDnsmasq(IPAddress[] listen, string? netns = null, int port = 53)
    {
        string[] arguments =
        [
            "--no-daemon", "--conf-file=/dev/null", $"--port={port}", "--bind-interfaces", "--no-resolv", "--no-hosts",
            $"--pid-file=/tmp/gadget-dns-test-{Guid.NewGuid():N}.pid",
            "--listen-address=" + string.Join(',', listen.Select(a => a.ToString())),
            "--address=/known.test/127.1.2.3", "--address=/known.test/fd00::1:2:3", "--address=/nx.test/",
        ];
        Process process = netns is null
            ? Start("dnsmasq", arguments)
            : Start("ip", ["netns", "exec", netns, "dnsmasq", .. arguments]);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            string[] dig = ["dig", $"@{listen[0]}", "-p", $"{port}", "+short", "+tries=1", "+timeout=1", "known.test"];
            (_, int exitCode, string output) = netns is null ? Run(dig[0], dig[1..]) : Run("ip", ["netns", "exec", netns, .. dig]);
            if (exitCode == 0 && output.Contains("127.1.2.3", StringComparison.Ordinal))
            {
                return process;
            }

            if (process.HasExited)
            {
                throw new InvalidOperationException($"dnsmasq exited: {process.StandardError.ReadToEnd()}");
            }

            Thread.Sleep(100);
        }

        process.Kill();
        throw new TimeoutException("dnsmasq did not start answering.");
    }

    public static void Stop(Process? process)
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }

        process?.Dispose();
    }
}

/// <summary>
/// A UDP DNS server for the tests on a loopback address: answers slow.test. after an injected delay
/// (and records how long it really held each query), servfail.test. with SERVFAIL at once, and
/// nothing else. Constructed with <c>silent: true</c> it never answers at all.
/// </summary>
internal sealed class TestResponder : IDisposable
{
    public static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(200);

    private readonly UdpClient _socket;
    private readonly Thread _thread;
    private readonly bool _silent;
    private volatile bool _stopping;

    public TestResponder(IPAddress address, bool silent)
    {
        _silent = silent;
        _socket = new UdpClient(new IPEndPoint(address, 53));
        _thread = new Thread(Serve) { IsBackground = true, Name = "dns test responder" };
        _thread.Start();
    }

    /// <summary>Per DNS id: how long the responder held the query before sending the answer.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<ushort, TimeSpan> Held { get; } = new();

    public void Dispose()
    {
        _stopping = true;
        _socket.Dispose();
        _thread.Join(2000);
    }

    private void Serve()
    {
        while (!_stopping)
        {
            IPEndPoint client = new(IPAddress.Any, 0);
            byte[] query;
            try
            {
                query = _socket.Receive(ref client);
            }
            catch (SocketException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            var held = Stopwatch.StartNew();
            if (_silent || query.Length < 17)
            {
                continue;
            }

            (ushort id, string name, ushort type) = DnsWire.ReadQuestion(query);
            byte[]? response = name switch
            {
                "slow.test." => Delayed(() => DnsWire.Response(id, name, type, 0, IPAddress.Parse("127.9.9.9"))),
                "servfail.test." => DnsWire.Response(id, name, type, 2),
                _ => null,
            };
            if (response is not null)
            {
                _socket.Send(response, response.Length, client);
                Held[id] = held.Elapsed;
            }
        }
    }

    private static byte[] Delayed(Func<byte[]> answer)
    {
        Thread.Sleep(Delay);
        return answer();
    }
}
