using System.Globalization;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Gadget.Agent.Runtime;

/// <summary>
/// <c>gadget-agent --probe PORT</c>: asks the agent on 127.0.0.1:PORT through the gRPC health
/// service and exits 0 when it serves. The DaemonSet's readiness and liveness probes run it inside
/// the pod, because the kubelet's own gRPC probe dials the pod IP and the agent listens only on
/// 127.0.0.1.
/// </summary>
internal static class HealthProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public static async Task<int> RunAsync(string port)
    {
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number is < 1 or > 65535)
        {
            await Console.Error.WriteLineAsync($"--probe needs a port (1-65535), not '{port}'.").ConfigureAwait(false);
            return 2;
        }

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{number}");
        try
        {
            HealthCheckResponse response = await new Health.HealthClient(channel)
                .CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + Timeout).ConfigureAwait(false);
            if (response.Status == HealthCheckResponse.Types.ServingStatus.Serving)
            {
                return 0;
            }

            await Console.Error.WriteLineAsync($"The agent on 127.0.0.1:{number} is {response.Status}.").ConfigureAwait(false);
            return 1;
        }
        catch (Grpc.Core.RpcException exception)
        {
            await Console.Error.WriteLineAsync($"The agent on 127.0.0.1:{number} does not answer: {exception.Status.Detail}").ConfigureAwait(false);
            return 1;
        }
    }
}
