;;; check_crashes.el --- Drives a real Emacs with eglot and the shipped crashloom.el  -*- lexical-binding: t; -*-
;; Opens a file of a copy of the example workspace (no git), waits for the crash diagnostics
;; through flymake, asks for a hover; investigates the shop's TypeError (its fix is NOT validated)
;; and the Go ledger's panic (validated: its diff is shown, declined, then accepted), and writes
;; what Emacs holds to $OUT as JSON.
(require 'json)
(add-to-list 'load-path (expand-file-name "editors/emacs" (getenv "REPO")))
(require 'crashloom)
;; Debian's elpa-go-mode, for ledger.go (a session loads it through its autoloads).
(require 'go-mode)
(setq crashloom-program (getenv "CRASHLOOM_BIN"))
(setq eglot-sync-connect 10)
(crashloom-setup)

(defvar check-result (list (cons 'errors nil)))
(defun check-put (key value) (push (cons key value) check-result))

(defun check-wait (what seconds predicate)
  "Wait up to SECONDS for PREDICATE; note WHAT when it never holds."
  (let ((end (+ (float-time) seconds)))
    (while (and (not (funcall predicate)) (< (float-time) end))
      (accept-process-output nil 0.1))
    (or (funcall predicate)
        (progn (push what (alist-get 'errors check-result)) nil))))

(defvar check-notes nil "What `crashloom-notify-function' showed, the latest first.")
(setq crashloom-notify-function (lambda (text) (push text check-notes)))
(defvar check-answers nil "The answers `crashloom-confirm-function' gives, in turn.")
(defvar check-questions nil "Each question asked, with the diff shown at the time, the latest first.")
(setq crashloom-confirm-function
      (lambda (question)
        (let ((diff (get-buffer crashloom-fix-buffer)))
          (push (list (cons 'question question)
                      (cons 'diff (and diff (with-current-buffer diff (buffer-substring-no-properties (point-min) (point-max)))))
                      (cons 'diff_shown (and diff (get-buffer-window diff) t)))
                check-questions))
        (pop check-answers)))

(defun check-goto (line)
  (goto-char (point-min))
  (forward-line (1- line))
  (back-to-indentation))

(defun check-titles-at (line)
  "The titles of the code actions eglot gets on LINE of the current buffer."
  (check-goto line)
  (mapcar (lambda (a) (plist-get a :title)) (eglot-code-actions (point) (line-end-position))))

(defun check-command-at (line prefix)
  "The command of the code action on LINE whose title starts with PREFIX."
  (check-goto line)
  (plist-get (seq-find (lambda (a) (string-prefix-p prefix (plist-get a :title)))
                       (eglot-code-actions (point) (line-end-position)))
             :command))

(defun check-investigate (line short-id)
  "Run the Investigate crash action on LINE, and wait for the verdict on SHORT-ID."
  (let* ((command (check-command-at line "Investigate crash"))
         (started (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                                   (list :command (plist-get command :command)
                                         :arguments (plist-get command :arguments)))))
    (check-put (intern (format "started_%s" short-id)) (eq (plist-get started :started) t))
    ;; The verdict arrives as the progress's end; a client that handled the progress request late
    ;; sees no progress at all, and then the report the server opens at the end is the sign.
    (check-wait (format "no verdict for %s" short-id) 240
                (lambda () (or (seq-some (lambda (n) (string-prefix-p (format "Crash %s: " short-id) n)) check-notes)
                               (get-buffer (format "%s.md" short-id)))))))

(defun check-report (short-id)
  "The first line of the report of SHORT-ID, once its buffer is open."
  (when (check-wait (format "the report of %s did not open" short-id) 10
                    (lambda () (get-buffer (format "%s.md" short-id))))
    (with-current-buffer (format "%s.md" short-id)
      (list (cons 'shown (and (get-buffer-window (current-buffer)) t))
            (cons 'first_line (buffer-substring-no-properties (point-min) (line-end-position)))))))

(defun check-apply-fix (line)
  "Run crashloom.applyFix for the crash on LINE; the server's answer."
  (let ((command (check-command-at line "Investigate crash")))
    (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                     (list :command "crashloom.applyFix" :arguments (plist-get command :arguments))
                     :timeout 120)))

(condition-case err
    (let* ((workspace (file-name-as-directory (getenv "WORKSPACE")))
           (elsewhere (file-name-as-directory (getenv "ELSEWHERE"))))
      (check-put 'root_elsewhere (crashloom-root elsewhere))
      (find-file (expand-file-name "shop/orders.py" workspace))
      (check-put 'project_root (project-root (project-current)))
      (check-put 'vc (and (vc-backend buffer-file-name) t))
      (eglot-ensure)
      ;; eglot-ensure connects after the command that opened the file, as in a session.
      (run-hooks 'post-command-hook)
      (when (check-wait "eglot never connected" 20 #'eglot-current-server)
        (check-put 'server_class (symbol-name (eieio-object-class (eglot-current-server))))
        (check-wait "no crash diagnostics" 20
                    (lambda () (>= (length (flymake-diagnostics)) 5)))
        (check-put 'diagnostics
                   (mapcar (lambda (d)
                             (list (cons 'line (line-number-at-pos (flymake-diagnostic-beg d)))
                                   (cons 'type (symbol-name (flymake-diagnostic-type d)))
                                   (cons 'text (flymake-diagnostic-text d))))
                           (sort (flymake-diagnostics)
                                 (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b))))))
        (let ((hover (jsonrpc-request (eglot-current-server) :textDocument/hover
                                      (list :textDocument (list :uri (eglot--path-to-uri buffer-file-name))
                                            :position (list :line 25 :character 10)))))
          (check-put 'hover (plist-get (plist-get hover :contents) :value)))
        ;; The code actions on the crash line, and none on a line that never crashed.
        (let ((orders (current-buffer)))
          (check-put 'actions_crash (check-titles-at 26))
          (check-put 'actions_elsewhere (check-titles-at 3))
          ;; The shop's TypeError: investigated, its fix is NOT validated and never applied.
          (check-investigate 26 "CL-54E9F7")
          (check-put 'shop_report (check-report "CL-54E9F7"))
          (with-current-buffer orders
            (check-put 'shop_actions_after (check-titles-at 26))
            (check-put 'shop_apply (check-apply-fix 26))
            (check-put 'shop_after_fix (buffer-substring-no-properties (point-min) (point-max)))))
        ;; The Go ledger: its nil-map panic gets a validated fix.
        (find-file (expand-file-name "ledger.go" (getenv "LEDGER")))
        (let ((ledger (current-buffer)))
          (check-put 'ledger_mode (symbol-name major-mode))
          (eglot-ensure)
          (run-hooks 'post-command-hook)
          (when (check-wait "eglot never connected for the ledger" 20 #'eglot-current-server)
            (check-wait "no crash diagnostic in ledger.go" 20
                        (lambda () (with-current-buffer ledger
                                     (seq-some (lambda (d) (= (line-number-at-pos (flymake-diagnostic-beg d)) 31))
                                               (flymake-diagnostics)))))
            (let* ((crash (seq-find (lambda (d) (= (line-number-at-pos (flymake-diagnostic-beg d)) 31))
                                    (flymake-diagnostics)))
                   (actions (check-titles-at 31))
                   (short-id (substring (car actions) (length "Investigate crash "))))
              (check-put 'ledger_crash (flymake-diagnostic-text crash))
              (check-put 'ledger_actions_before actions)
              (check-put 'ledger_id short-id)
              (setq check-notes nil)
              (check-investigate 31 short-id)
              (check-put 'ledger_notes (reverse check-notes))
              (check-put 'ledger_report (check-report short-id))
              (with-current-buffer ledger
                (check-put 'ledger_actions_after (check-titles-at 31))
                ;; Declined in the diff preview: nothing changes.
                (setq check-answers (list nil))
                (check-put 'apply_declined (check-apply-fix 31))
                (check-put 'after_decline (buffer-substring-no-properties (point-min) (point-max)))
                ;; Accepted: the buffer has the fix.
                (setq check-answers (list t))
                (check-put 'apply_accepted (check-apply-fix 31))
                (check-put 'after_accept (buffer-substring-no-properties (point-min) (point-max))))
              (check-put 'questions (reverse check-questions)))))))
  (error (push (format "%S" err) (alist-get 'errors check-result))))

(when (alist-get 'errors check-result)
  ;; What eglot exchanged with the servers, to tell why.
  (check-put 'eglot_events
             (mapconcat (lambda (b) (with-current-buffer b
                                      (buffer-substring-no-properties (max (point-min) (- (point-max) 6000)) (point-max))))
                        (seq-filter (lambda (b) (string-match-p "EGLOT.*events" (buffer-name b))) (buffer-list))
                        "\n")))
(with-temp-file (getenv "OUT")
  (insert (json-encode check-result)))
(kill-emacs 0)
