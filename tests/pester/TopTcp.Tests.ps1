#Requires -Version 7.6
# Get-GadgetTopTcp through one shared agent (started here on a private socket): a python3 in a
# network namespace this test makes sends known bytes to itself over loopback, IPv4 and IPv6; and
# two runc containers on the host's network talk to themselves with busybox's nc, for enrichment
# and selection.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath
    if (Test-KernelTracing) {
        $script:Netns = "gadget-toptcp-$PID"
        & ip netns add $Netns
        & ip -n $Netns link set lo up
    }

    # Sends 65536 bytes and answers 1000 on a loopback connection per family, every 300 ms, for a
    # while; prints "<host> <server port> <client port>" for each connection.
    $script:Script = @'
import socket, sys, time
time.sleep(1.5)
end = time.time() + 20
while time.time() < end:
    for family, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
        server = socket.socket(family, socket.SOCK_STREAM)
        server.bind((host, 0)); server.listen(1)
        client = socket.create_connection((host, server.getsockname()[1]))
        peer, _ = server.accept()
        client.sendall(b'q' * 65536)
        got = 0
        while got < 65536: got += len(peer.recv(65536))
        peer.sendall(b'r' * 1000)
        got = 0
        while got < 1000: got += len(client.recv(1000))
        print(host, server.getsockname()[1], client.getsockname()[1], flush=True)
        client.close(); peer.close(); server.close()
    time.sleep(0.3)
'@
    $script:Ansi = '\x1b\[[0-9;]*m'
}

AfterAll {
    Exit-TestAgent $script:Agent
    if ($script:Netns) { & ip netns delete $Netns }
}

Describe 'Get-GadgetTopTcp -Local' -Skip:$SkipKernel {
    BeforeAll {
        # Start-Process joins its arguments into one command line: the script goes as a file.
        $out = Join-Path ([IO.Path]::GetTempPath()) "gadget-toptcp-$PID.out"
        $file = Join-Path ([IO.Path]::GetTempPath()) "gadget-toptcp-$PID.py"
        Set-Content -Path $file -Value $Script
        $talker = Start-Process -FilePath ip -ArgumentList @('netns', 'exec', $Netns, 'python3', $file) -RedirectStandardOutput $out -PassThru
        $script:Rows = @(Get-GadgetTopTcp -Local -Interval 2 -Count 2 -Top 0 -Pid $talker.Id)
        $talker.WaitForExit()
        $script:Connections = @(Get-Content $out | ForEach-Object {
                $address, $server, $client = $_ -split ' '
                [pscustomobject]@{ Server = [Net.IPEndPoint]::new([ipaddress]$address, [int]$server); Client = [Net.IPEndPoint]::new([ipaddress]$address, [int]$client) }
            })
        Remove-Item $out, $file -ErrorAction Ignore
    }

    It 'writes Gadget.TopTcpRow objects of the process' {
        $Rows.Count | Should -BeGreaterThan 0
        $Rows | ForEach-Object { $_ | Should -BeOfType ([Gadget.TopTcpRow]) }
        $Rows | Where-Object Comm -ne 'python3' | Should -BeNullOrEmpty
    }

    It 'counts both ends of each connection, IPv4 and IPv6, with their bytes' {
        # A connection under way when the last window closed has only part of its bytes; one
        # across a window's end has a row in each window. Every whole one has them all.
        $whole = 0
        foreach ($connection in $Connections) {
            $client = @($Rows | Where-Object { $_.Source -eq $connection.Client -and $_.Destination -eq $connection.Server })
            $server = @($Rows | Where-Object { $_.Source -eq $connection.Server -and $_.Destination -eq $connection.Client })
            $sums = [uint64[]]@(0, 0, 0, 0)
            foreach ($row in $client) { $sums[0] += $row.Sent; $sums[1] += $row.Received }
            foreach ($row in $server) { $sums[2] += $row.Sent; $sums[3] += $row.Received }
            $sums[0] | Should -BeLessOrEqual 65536
            $sums[1] | Should -BeLessOrEqual 1000
            $sums[2] | Should -BeLessOrEqual 1000
            $sums[3] | Should -BeLessOrEqual 65536
            if (($sums -join ',') -eq '65536,1000,1000,65536') { $whole++ }
        }
        $whole | Should -BeGreaterThan 2
        @($Rows | Where-Object { $_.Source.AddressFamily -eq 'InterNetworkV6' }).Count | Should -BeGreaterThan 0
        @($Rows | Where-Object { $_.Source.AddressFamily -eq 'InterNetwork' }).Count | Should -BeGreaterThan 0
    }

    It 'sorts each window by Sent and exports endpoints as text' {
        foreach ($window in $Rows | Group-Object { $_.IntervalEnd.Ticks }) {
            $sent = @($window.Group.Sent)
            $sent | Should -Be @($sent | Sort-Object -Descending)
        }
        $line = $Rows | Select-Object -First 1 | ConvertTo-Csv | Select-Object -Last 1
        $line | Should -Match '"(127\.0\.0\.1|\[::1\]):\d+"'
    }

    It 'renders as a table within 120 columns' {
        $lines = @(($Rows | Format-Table | Out-String -Width 120) -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+COMM\s+SOURCE\s+DESTINATION\s+SENT\s+RECEIVED$'
        foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
    }

    It 'refuses a family other than 4 or 6' {
        { Get-GadgetTopTcp -Local -Family 5 -Count 1 -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Gadget.Commands.GetTopTcpCommand'
    }
}

Describe 'Get-GadgetTopTcp in real containers' -Skip:$SkipKernel {
    BeforeAll {
        # Two busybox-static containers run by runc alone (no containerd, nothing shared with other
        # users of this host), on the host's network, their bundles annotated as the kubelet labels
        # pods toptcp-ns/<name>: each listens with nc on a port of its own and sends itself a line,
        # five times a second.
        $script:Bundles = New-TestDirectory 'gadget-toptcp-pods'

        function Start-TopPod {
            param([string] $Pod, [int] $Port)
            # The host's network: no loopback to bring up, and ports a test picks at random.
            Start-RuncPod -Directory $Bundles -Namespace toptcp-ns -Pod $Pod -Applets sh, sleep, echo, nc `
                -Script "while true; do nc -l -p $Port >/dev/null 2>&1 & sleep 0.1; echo toptcp | nc -w 1 127.0.0.1 $Port; sleep 0.1; done" `
                -Configure { param($config) $config.linux.namespaces = @($config.linux.namespaces | Where-Object type -ne 'network') }
        }

        $script:PortA = Get-Random -Minimum 40000 -Maximum 44000
        $script:PortB = $PortA + 1000
        $script:Pods = @()
        $script:Pods += Start-TopPod 'toptcp-a' $PortA
        $script:Pods += Start-TopPod 'toptcp-b' $PortB
        $known = Wait-Condition { @(Get-GadgetContainer -Local -Namespace toptcp-ns).Count -eq 2 } -Timeout '00:00:15' -IntervalMilliseconds 250
        $known | Should -BeTrue -Because 'the agent finds runc containers within seconds'
        $script:Both = @(Get-GadgetTopTcp -Local -Namespace toptcp-ns -Interval 2 -Count 2 -Top 0)
        $script:OnlyA = @(Get-GadgetTopTcp -Local -Container toptcp-a -Interval 2 -Count 2 -Top 0)
    }

    AfterAll {
        Stop-RuncPod $script:Pods
        Remove-Item $script:Bundles -Recurse -Force -ErrorAction Ignore
    }

    It 'gives each row the pod and container of the process' {
        $Both.Count | Should -BeGreaterThan 0
        @($Both.Pod | Sort-Object -Unique) | Should -Be @('toptcp-a', 'toptcp-b')
        foreach ($row in $Both) {
            $row.Namespace | Should -BeExactly 'toptcp-ns'
            $row.Container | Should -BeExactly $row.Pod
            $row.Comm | Should -BeExactly 'nc'
            $port = if ($row.Pod -eq 'toptcp-a') { $PortA } else { $PortB }
            $port | Should -BeIn @($row.Source.Port, $row.Destination.Port)
        }
        # The client sends "toptcp" and a newline; the listener receives them.
        @($Both | Where-Object { $_.Destination.Port -in $PortA, $PortB -and $_.Sent -ge 7 }).Count | Should -BeGreaterThan 0
        @($Both | Where-Object { $_.Source.Port -in $PortA, $PortB -and $_.Received -ge 7 }).Count | Should -BeGreaterThan 0
    }

    It '-Container selects that container''s connections only, in the kernel' {
        $OnlyA.Count | Should -BeGreaterThan 0
        foreach ($row in $OnlyA) {
            $row.Pod | Should -BeExactly 'toptcp-a'
            $row.Container | Should -BeExactly 'toptcp-a'
            $PortA | Should -BeIn @($row.Source.Port, $row.Destination.Port)
        }
    }
}
