;;; crashloom.el --- Production crashes on the line that crashed, through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages
;; SPDX-License-Identifier: MIT OR Apache-2.0

;;; Commentary:

;; Crashloom is a language server that shows production crashes as diagnostics.  This file
;; tells eglot how to start it and where a Crashloom workspace begins: the nearest folder with
;; `crashloom.toml' or `.crashloom/', with or without version control.
;;
;;   (add-to-list 'load-path "/path/to/crashloom/editors/emacs")
;;   (require 'crashloom)
;;   (setq crashloom-program "/path/to/crashloom")   ; when not on PATH
;;   (crashloom-setup)                               ; eglot uses Crashloom for `crashloom-modes'
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; eglot runs one server per buffer, so `crashloom-setup' makes Crashloom the server of
;; `crashloom-modes'.  To keep another server for a mode, leave that mode out of
;; `crashloom-modes' and start Crashloom by hand with M-x crashloom-start.
;; Crashes show through flymake (M-x flymake-show-buffer-diagnostics); M-x eglot-code-actions on
;; a crash line offers "Investigate crash", "Apply validated fix" and the rest.

;;; Code:

(require 'eglot)
(require 'project)
(require 'cl-lib)

(defgroup crashloom nil
  "Production crashes on the line that crashed."
  :group 'tools
  :prefix "crashloom-")

(defcustom crashloom-program "crashloom"
  "The crashloom program (a name on PATH or a file name)."
  :type 'string)

(defcustom crashloom-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    rust-mode rust-ts-mode go-mode go-ts-mode java-mode java-ts-mode ruby-mode ruby-ts-mode
    csharp-mode csharp-ts-mode php-mode kotlin-mode scala-mode)
  "Major modes whose eglot server `crashloom-setup' makes Crashloom."
  :type '(repeat symbol))

(defcustom crashloom-initialization-options nil
  "Settings sent to the server, with the keys of crashloom.toml, as a plist.
For example (:diagnostics (:frames :json-false)).  The Sentry token is read from
SENTRY_AUTH_TOKEN in the server's environment."
  :type 'sexp)

(defcustom crashloom-root-files '("crashloom.toml" ".crashloom")
  "Files or folders that mark the root of a Crashloom workspace."
  :type '(repeat string))

(defclass crashloom-eglot-server (eglot-lsp-server) ()
  :documentation "The Crashloom language server.")

(cl-defmethod eglot-initialization-options ((_server crashloom-eglot-server))
  "Settings for the server: `crashloom-initialization-options'."
  (or crashloom-initialization-options eglot--{}))

(defun crashloom-root (dir)
  "The nearest folder at or above DIR that holds one of `crashloom-root-files', or nil."
  (let ((roots (delq nil (mapcar (lambda (marker) (locate-dominating-file dir marker))
                                 crashloom-root-files))))
    (when roots
      ;; The innermost: the longest of the candidate folders.
      (file-name-as-directory
       (expand-file-name (car (sort roots (lambda (a b) (> (length a) (length b))))))))))

(defun crashloom-project-find (dir)
  "A project for `project-find-functions': the Crashloom workspace holding DIR."
  (let ((root (crashloom-root dir)))
    (and root (cons 'crashloom root))))

(cl-defmethod project-root ((project (head crashloom)))
  "The folder of a Crashloom PROJECT."
  (cdr project))

(defun crashloom--contact ()
  "How eglot starts the server."
  (list 'crashloom-eglot-server crashloom-program "lsp"))

;;;###autoload
(defun crashloom-setup ()
  "Use Crashloom as eglot's server for `crashloom-modes', with its project root rule."
  (add-hook 'project-find-functions #'crashloom-project-find -50)
  (setq eglot-server-programs
        (cons (cons crashloom-modes (lambda (&rest _) (crashloom--contact)))
              (cl-remove-if (lambda (entry) (equal (car entry) crashloom-modes)) eglot-server-programs))))

;;;###autoload
(defun crashloom-start ()
  "Start Crashloom for the current buffer's workspace, whatever `eglot-server-programs' says."
  (interactive)
  (add-hook 'project-find-functions #'crashloom-project-find -50)
  (let ((project (or (crashloom-project-find default-directory) (project-current))))
    (unless project
      (user-error "No crashloom.toml or .crashloom/ above %s" default-directory))
    (eglot major-mode project 'crashloom-eglot-server (cdr (crashloom--contact))
           (crashloom--language-id major-mode))))

(defun crashloom--language-id (mode)
  "The LSP language id of MODE: its name without -mode or -ts-mode."
  (replace-regexp-in-string "\\(?:-ts\\)?-mode\\'" "" (symbol-name mode)))

(provide 'crashloom)
;;; crashloom.el ends here
