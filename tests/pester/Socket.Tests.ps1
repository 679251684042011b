#Requires -Version 7.6
# Get-GadgetSocket through one shared agent (started here on a private socket), compared with ss in
# the same network namespace: a python3 in a namespace of its own holds TCP and UDP sockets, and a
# container of its own network namespace listens, labelled as the kubelet labels a pod.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath

    $script:Ansi = '\x1b\[[0-9;]*m'

    function ConvertFrom-SsLine {
        # One line of ss -tuanpH as "Protocol State Local Remote", as a SocketEntry prints them.
        param([string] $Line)
        $columns = -split $Line
        $state = @{ LISTEN = 'Listen'; ESTAB = 'Established'; 'TIME-WAIT' = 'TimeWait'; UNCONN = 'Unconnected' }[$columns[1]]
        $ends = foreach ($end in $columns[4], $columns[5]) {
            $colon = $end.LastIndexOf(':')
            $port = $end.Substring($colon + 1)
            [Net.IPEndPoint]::new([Net.IPAddress]::Parse($end.Substring(0, $colon).Trim('[', ']')), $(if ($port -eq '*') { 0 } else { [int]$port })).ToString()
        }
        "$(if ($columns[0] -eq 'tcp') { 'Tcp' } else { 'Udp' }) $state $($ends[0]) $($ends[1])"
    }
}

AfterAll {
    Exit-TestAgent $script:Agent
}

Describe 'Get-GadgetSocket -Local' -Skip:$SkipKernel {
    BeforeAll {
        $script:Port = Get-Random -Minimum 20000 -Maximum 30000
        $info = [Diagnostics.ProcessStartInfo]::new('/usr/bin/unshare')
        $info.RedirectStandardOutput = $true
        $script = @"
import socket, time
listener = socket.socket(); listener.bind(('127.0.0.1', $Port)); listener.listen()
client = socket.create_connection(('127.0.0.1', $Port)); server, _ = listener.accept()
closing = socket.create_connection(('127.0.0.1', $Port)); closed, _ = listener.accept()
closing.close(); closed.recv(1); closed.close()
udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); udp.bind(('::1', $Port))
print('ready', flush=True)
time.sleep(120)
"@
        foreach ($argument in '-n', '/bin/sh', '-c', 'ip link set lo up && exec "$0" "$@"', '/usr/bin/python3', '-c', $script) { $info.ArgumentList.Add($argument) }
        $script:Python = [Diagnostics.Process]::Start($info)
        $Python.StandardOutput.ReadLine() | Should -Be 'ready'
        $script:NetNs = [uint64](((Get-Item "/proc/$($Python.Id)/ns/net").LinkTarget -split '[\[\]]')[1])
    }

    AfterAll {
        if ($Python) { $Python.Kill(); $Python.WaitForExit(); $Python.Dispose() }
    }

    It 'lists the sockets of another network namespace as ss in it does, each with its process' {
        $ss = @(& nsenter -t $Python.Id -n ss -tuanpH)
        $sockets = @(Get-GadgetSocket -Local | Where-Object NetNsId -eq $NetNs)
        @($sockets | ForEach-Object { "$($_.Protocol) $($_.State) $($_.Local) $($_.Remote)" } | Sort-Object) |
            Should -Be @($ss | ForEach-Object { ConvertFrom-SsLine $_ } | Sort-Object)
        $sockets.Count | Should -Be 5
        foreach ($socket in $sockets | Where-Object State -ne TimeWait) {
            $socket.Pid | Should -Be $Python.Id
            $socket.Comm | Should -BeExactly 'python3'
            $socket.Local | Should -BeOfType [Net.IPEndPoint]
        }
        ($sockets | Where-Object State -eq TimeWait).Pid | Should -Be 0
    }

    It '-Protocol and -State choose in the kernel; Get-Process input chooses by process' {
        $udp = @(Get-GadgetSocket -Local -Protocol Udp | Where-Object NetNsId -eq $NetNs)
        $udp.Count | Should -Be 1
        $udp[0].Local | Should -Be ([Net.IPEndPoint]::Parse("[::1]:$Port"))
        $udp[0].State | Should -Be ([Gadget.SocketState]::Unconnected)

        $listening = @(Get-GadgetSocket -Local -State Listen, TimeWait | Where-Object NetNsId -eq $NetNs)
        @($listening.State | Sort-Object -Unique) | Should -Be @([Gadget.SocketState]::TimeWait, [Gadget.SocketState]::Listen)

        $held = @(Get-Process -Id $Python.Id | Get-GadgetSocket -Local)
        $held.Count | Should -Be 4
        $held.Pid | Sort-Object -Unique | Should -Be $Python.Id
    }

    It 'refuses a state it does not know, naming the states' {
        { Get-GadgetSocket -Local -State Listening } | Should -Throw -ExpectedMessage '*Listen*'
    }

    It 'prints its view within 120 columns, key columns first, and reads like it as a string' {
        $command = "Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Get-GadgetSocket -Local -Pid $($Python.Id) -State Listen | Out-String -Width 120"
        $run = Invoke-FreshPwsh $command
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace $Ansi)
        $lines = @($run.Output -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+COMM\s+PROTO\s+STATE\s+LOCAL\s+REMOTE$'
        $lines[2] | Should -Match "^\d\d:\d\d:\d\d\.\d{3}\s+$($Python.Id)\s+python3\s+Tcp\s+Listen\s+127\.0\.0\.1:$Port\s+0\.0\.0\.0:0\s*$"
        foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        $socket = Get-GadgetSocket -Local -Pid $Python.Id -State Listen
        "$socket" | Should -Match "$($Python.Id) python3 Tcp Listen 127\.0\.0\.1:$Port 0\.0\.0\.0:0"
    }
}

Describe 'Get-GadgetSocket in a real container' -Skip:$SkipKernel {
    BeforeAll {
        # A busybox-static container under containerd and runc with a network namespace of its own,
        # labelled as the kubelet labels the pod socket-ns/socket-app: nc listens on a port in it.
        $script:Work = New-TestDirectory 'gadget-socket-pod'
        $script:StartedContainerd = Start-TestContainerd

        $script:PodPort = Get-Random -Minimum 40000 -Maximum 49000
        $script:Id = "socket-app-$([Guid]::NewGuid().ToString('N').Substring(0, 8))"
        $rootfs = Join-Path $Work $Id
        foreach ($directory in 'bin', 'proc', 'sys', 'dev', 'tmp') { $null = New-Item -ItemType Directory (Join-Path $rootfs $directory) }
        Copy-Item /bin/busybox (Join-Path $rootfs 'bin/busybox')
        foreach ($applet in 'sh', 'nc', 'sleep') { $null = New-Item -ItemType SymbolicLink -Path (Join-Path $rootfs "bin/$applet") -Target busybox }
        & ctr -n k8s.io run -d `
            --label 'io.kubernetes.pod.namespace=socket-ns' --label 'io.kubernetes.pod.name=socket-app' `
            --label 'io.kubernetes.container.name=socket-app' --label "io.kubernetes.pod.uid=$([Guid]::NewGuid())" `
            --rootfs $rootfs $Id /bin/sh -c "while true; do nc -l -p $PodPort; done" | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "ctr run $Id failed." }
        Wait-Condition { @(Get-GadgetSocket -Local -State Listen -Comm nc | Where-Object { $_.Local.Port -eq $PodPort }).Count -gt 0 } -Timeout '00:00:20' | Should -BeTrue
    }

    AfterAll {
        Remove-CtrContainer $script:Id
        Stop-TestContainerd $script:StartedContainerd
        Remove-Item $script:Work -Recurse -Force -ErrorAction Ignore
    }

    It '-Namespace and -Pod select the pod''s sockets, in its own network namespace, each with its pod' {
        $sockets = @(Get-GadgetSocket -Local -Namespace socket-ns -Pod socket-app)
        $listener = @($sockets | Where-Object { $_.State -eq 'Listen' -and $_.Local.Port -eq $PodPort })
        $listener.Count | Should -Be 1
        $listener[0].Comm | Should -BeExactly 'nc'
        $listener[0].NetNsId | Should -Not -Be ([uint64](((Get-Item /proc/self/ns/net).LinkTarget -split '[\[\]]')[1]))
        foreach ($socket in $sockets) {
            $socket.Namespace | Should -BeExactly 'socket-ns'
            $socket.Pod | Should -BeExactly 'socket-app'
            $socket.Container | Should -BeExactly 'socket-app'
        }
        @(Get-GadgetSocket -Local -HostOnly | Where-Object { $_.NetNsId -eq $listener[0].NetNsId }) | Should -BeNullOrEmpty
    }
}
