#Requires -Version 7.6
# Get-GadgetProcess through one shared agent (started here on a private socket), compared with
# /proc for a python3 with three threads that this file starts.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath

    # The escape sequences PowerShell styles table headers with: they take no column.
    $script:Ansi = '\x1b\[[0-9;]*m'
}

AfterAll {
    Exit-TestAgent $script:Agent
}

Describe 'Get-GadgetProcess -Local' -Skip:$SkipKernel {
    BeforeAll {
        $info = [Diagnostics.ProcessStartInfo]::new('python3')
        $info.RedirectStandardOutput = $true
        $info.ArgumentList.Add('-c')
        $info.ArgumentList.Add("import threading, time`nfor _ in range(2): threading.Thread(target=time.sleep, args=(120,), daemon=True).start()`nprint('ready', flush=True)`ntime.sleep(120)")
        $script:Python = [Diagnostics.Process]::Start($info)
        $Python.StandardOutput.ReadLine() | Should -Be 'ready'
        $script:Uid = [uint32]((Get-Content "/proc/$($Python.Id)/status" | Where-Object { $_ -like 'Uid:*' }) -split '\s+')[1]
    }

    AfterAll {
        if ($Python) { $Python.Kill(); $Python.WaitForExit(); $Python.Dispose() }
    }

    It 'lists the python3 as /proc shows it: parent, user, three threads' {
        $entry = @(Get-GadgetProcess -Local | Where-Object Pid -eq $Python.Id)
        $entry.Count | Should -Be 1
        $entry[0] | Should -BeOfType Gadget.ProcessEntry
        $entry[0].Comm | Should -Be 'python3'
        $entry[0].Ppid | Should -Be $PID
        $entry[0].Uid | Should -Be $Uid
        $entry[0].Threads | Should -Be 3
        $entry[0].Tid | Should -Be $Python.Id
        $entry[0].MountNsId | Should -Be ([uint64]((Get-Item "/proc/$($Python.Id)/ns/mnt").LinkTarget -replace '\D'))
    }

    It 'has every process /proc lists before and after it' {
        $before = Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' | ForEach-Object { [int]$_.Name }
        $listed = Get-GadgetProcess -Local | ForEach-Object Pid
        $after = Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' | ForEach-Object { [int]$_.Name }
        # Pid 1 of a sandbox can show in /proc without being a task the kernel's iterator visits.
        $stable = $before | Where-Object { $_ -in $after -and $_ -ne 1 }
        $stable | Where-Object { $_ -notin $listed } | Should -BeNullOrEmpty
        @($listed | Group-Object | Where-Object Count -gt 1) | Should -BeNullOrEmpty
    }

    It '-Threads gives one row per thread, with the ids of /proc/<pid>/task' {
        $threads = @(Get-GadgetProcess -Local -Pid $Python.Id -Threads)
        $tids = Get-ChildItem "/proc/$($Python.Id)/task" | ForEach-Object { [int]$_.Name } | Sort-Object
        ($threads.Tid | Sort-Object) | Should -Be $tids
        $threads.Pid | Sort-Object -Unique | Should -Be $Python.Id
    }

    It 'filters by -Comm and -Uid in the kernel' {
        $byComm = @(Get-GadgetProcess -Local -Comm python3)
        $byComm.Pid | Should -Contain $Python.Id
        $byComm.Comm | Sort-Object -Unique | Should -Be 'python3'
        $byUid = @(Get-GadgetProcess -Local -Uid 65534)
        $byUid | Where-Object Pid -eq $Python.Id | Should -BeNullOrEmpty
        $byUid | Where-Object Uid -ne 65534 | Should -BeNullOrEmpty
    }

    It 'groups by user and exports to CSV' {
        $groups = Get-GadgetProcess -Local | Group-Object Uid
        ($groups | Where-Object Name -eq "$Uid").Group.Pid | Should -Contain $Python.Id
        $csv = Join-Path ([IO.Path]::GetTempPath()) "gadget-process-$([guid]::NewGuid()).csv"
        try {
            Get-GadgetProcess -Local -Pid $Python.Id | Export-Csv $csv
            $row = @(Import-Csv $csv)
            $row.Count | Should -Be 1
            $row[0].Pid | Should -Be "$($Python.Id)"
            $row[0].Threads | Should -Be '3'
            $row[0].Comm | Should -Be 'python3'
        }
        finally { Remove-Item $csv -ErrorAction Ignore }
    }

    It 'says so when no container matches the selection, and lists nothing' {
        $rows = @(Get-GadgetProcess -Local -Namespace no-such-namespace -WarningVariable warnings -WarningAction SilentlyContinue)
        $rows | Should -BeNullOrEmpty
        "$warnings" | Should -Match 'No container matches the selection \(.*no-such-namespace.*\); the snapshot lists none\.'
    }

    It 'has no trace parameters: a snapshot ends by itself' {
        (Get-Command Get-GadgetProcess).Parameters.Keys | Should -Not -Contain 'Duration'
        (Get-Command Get-GadgetProcess).Parameters.Keys | Should -Not -Contain 'MaxEvents'
        (Get-Command Get-GadgetProcess).OutputType.Name | Should -Contain 'Gadget.ProcessEntry'
    }

    Context 'in a fresh pwsh, as a runbook sees it' {
        It 'prints the default view within 120 columns, every header whole' {
            $command = "Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Get-GadgetProcess -Local -Pid $($Python.Id) -Threads | Out-String -Width 120"
            $run = Invoke-FreshPwsh $command
            $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace $Ansi)
            $lines = @($run.Output -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
            $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+TID\s+PPID\s+COMM\s+UID\s+GID\s+THREADS\s+MNTNS$'
            @($lines | Where-Object { $_ -match "^\d\d:\d\d:\d\d\.\d{3}\s+$($Python.Id)\s+\d+\s+$PID\s+python3\s" }).Count | Should -Be 3
            foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        }

        It 'shows pod identity in the pod view' {
            $command = "Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Get-GadgetProcess -Local -Pid $($Python.Id) | Format-Table -View pod | Out-String -Width 120"
            $run = Invoke-FreshPwsh $command
            $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace $Ansi)
            $lines = @($run.Output -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
            $lines[0].TrimEnd() | Should -Match '^TIME\s+NAMESPACE\s+POD\s+CONTAINER\s'
            foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        }
    }
}
